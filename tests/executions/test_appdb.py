"""A worker and an app database that drops out for a moment: progress goes on without it, the
commit waits for it, and the outcome is written as soon as it is back."""

from __future__ import annotations

import logging
import time

import pytest
from django.db import InterfaceError, OperationalError

from apps.executions.services import appdb
from apps.executions.services.progress import ExecutionProgress
from masking import Cancelled, ProgressUpdate, TerminalError


class Flaky:
    """Fails `failures` times with a connection error, then answers."""

    def __init__(self, failures: int, error: type[Exception] = OperationalError):
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self, *_: object, **__: object) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error("server closed the connection unexpectedly")
        return "written"


def test_patiently_retries_until_the_database_answers(caplog):
    flaky = Flaky(3, InterfaceError)
    with caplog.at_level(logging.WARNING, logger="maskflow.executions"):
        assert appdb.patiently(flaky, what="recording success", seconds=10) == "written"
    assert flaky.calls == 4
    warned = [r.getMessage() for r in caplog.records]
    assert warned == ["app database unreachable while recording success (InterfaceError); retrying"]


def test_patiently_gives_up_after_its_wait():
    flaky = Flaky(10**6)
    started = time.monotonic()
    with pytest.raises(OperationalError):
        appdb.patiently(flaky, what="recording success", seconds=0.6)
    assert 0.6 <= time.monotonic() - started < 2.0 and flaky.calls >= 3


def test_patiently_does_not_retry_other_errors():
    def broken() -> None:
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError):
        appdb.patiently(broken, what="recording success", seconds=10)


def test_tolerantly_skips_a_write_the_database_cannot_take():
    assert appdb.tolerantly(Flaky(1), what="writing progress", default="skipped") == "skipped"
    assert appdb.tolerantly(Flaky(0), what="writing progress", default="skipped") == "written"


def _update(phase: str = "load") -> ProgressUpdate:
    return ProgressUpdate("people", 1, 1, 10, 100, 10, 100, 5.0, 2.0, phase)


def test_progress_goes_on_while_the_app_database_is_away(monkeypatch):
    progress = ExecutionProgress(1, {})
    seen: list[str] = []
    progress.on_update = lambda u: seen.append(u.phase)
    monkeypatch.setattr(progress, "_write", Flaky(10**6))
    monkeypatch.setattr(progress, "_read_cancel", Flaky(10**6))
    monkeypatch.setattr(progress, "_heartbeat", Flaky(10**6))
    progress.update(_update("start"))  # no error: skipped
    assert progress.should_cancel() is False  # an outage cancels nothing
    assert seen == ["start"]


def test_the_commit_waits_for_the_app_database_then_gives_up(monkeypatch, settings):
    settings.EXECUTION_APP_DB_WAIT_SECONDS = 0.5
    progress = ExecutionProgress(1, {})
    monkeypatch.setattr(progress, "_heartbeat", Flaky(10**6))
    started = time.monotonic()
    with pytest.raises(TerminalError) as refused:
        progress.before_commit()
    assert str(refused.value) == appdb.APP_DB_LOST and time.monotonic() - started >= 0.25


def test_the_commit_goes_ahead_once_the_app_database_is_back(monkeypatch, settings):
    settings.EXECUTION_APP_DB_WAIT_SECONDS = 10
    progress = ExecutionProgress(1, {})
    heartbeat = Flaky(2)
    monkeypatch.setattr(progress, "_heartbeat", lambda **_: 1 if heartbeat() else 0)
    monkeypatch.setattr(progress, "_read_cancel", lambda: False)
    progress.before_commit()
    assert heartbeat.calls == 3


def test_a_cancel_seen_before_the_commit_rolls_back(monkeypatch):
    progress = ExecutionProgress(1, {})
    monkeypatch.setattr(progress, "_heartbeat", lambda **_: 1)
    monkeypatch.setattr(progress, "_read_cancel", lambda: True)
    with pytest.raises(Cancelled):
        progress.before_commit()
    monkeypatch.setattr(progress, "_heartbeat", lambda **_: 0)  # no longer running (reaped)
    monkeypatch.setattr(progress, "_read_cancel", lambda: False)
    with pytest.raises(Cancelled):
        progress.before_commit()
