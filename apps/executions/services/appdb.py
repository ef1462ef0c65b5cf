"""Riding out a short app-database outage in the worker.

A run's rows move between the source and the target; the app database only records them. A
failover, a restart or a lost network path to it for a few seconds must not cost a long run, and
must never leave the record saying something other than what happened to the target:

- progress and heartbeat writes that fail are skipped (the next one reconnects);
- before the target commits, the run proves it can still record the outcome (`require`), and
  waits up to EXECUTION_APP_DB_WAIT_SECONDS for that; if it cannot, the target is rolled back;
- the outcome itself (status, tables, audit) is written with the same patience.

A worker that still cannot write after the wait gives up; its run then has no heartbeat and the
reaper ends it as failed once the database is back, with the target rolled back."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger("maskflow.executions")
T = TypeVar("T")
APP_DB_ERRORS = (OperationalError, InterfaceError)
APP_DB_LOST = (
    "The app database could not be reached before the commit, so the outcome could not be "
    "recorded; the target was rolled back."
)


def wait_seconds() -> float:
    return float(getattr(settings, "EXECUTION_APP_DB_WAIT_SECONDS", 60))


def reconnect_later() -> None:
    """Drop this thread's broken connection so the next query opens a new one."""
    try:
        connection.close()
    except Exception:  # closing a dead connection may fail too; it is gone either way
        logger.debug("closing the app database connection failed", exc_info=True)


def patiently(fn: Callable[[], T], *, what: str, seconds: float | None = None) -> T:
    """Call `fn` until the app database answers, for at most `seconds` (default: the setting);
    then the last error propagates. Only connection-level errors are retried."""
    deadline = time.monotonic() + (wait_seconds() if seconds is None else seconds)
    delay, warned = 0.25, False
    while True:
        try:
            return fn()
        except APP_DB_ERRORS as exc:
            reconnect_later()
            left = deadline - time.monotonic()
            if left <= 0:
                logger.error("app database unreachable while %s; giving up", what)
                raise
            if not warned:
                warned = True
                logger.warning(
                    "app database unreachable while %s (%s); retrying", what, type(exc).__name__
                )
            time.sleep(min(delay, left))
            delay = min(delay * 2, 2.0)


def tolerantly(fn: Callable[[], T], *, what: str, default: T) -> T:
    """Call `fn` once; if the app database is unreachable, log it and return `default`."""
    try:
        return fn()
    except APP_DB_ERRORS as exc:
        reconnect_later()
        logger.warning("app database unreachable while %s (%s); skipped", what, type(exc).__name__)
        return default
