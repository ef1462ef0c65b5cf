"""masking.run owns the target tables it creates: created before the rows move, dropped again
when the run fails or is cancelled, never when they existed before or hold others' rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import masking
from masking import Cancelled, ColumnRule, Plan, TablePlan, TerminalError
from masking.dialects.base import ConnectionParams
from masking.progress import NullProgress

SECRET = b"k" * 32


def _db(path: Path, *sql: str) -> Path:
    db = sqlite3.connect(path)
    for s in sql:
        db.execute(s)
    db.commit()
    db.close()
    return path


@pytest.fixture
def pair(tmp_path):
    src = _db(
        tmp_path / "src.sqlite3",
        "CREATE TABLE people (id INTEGER PRIMARY KEY, email VARCHAR(80))",
        "INSERT INTO people VALUES (1, 'ada@example.com'), (2, 'alan@example.com')",
    )
    tgt = _db(tmp_path / "tgt.sqlite3")
    return src, tgt


def _tables(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        db.close()


PLAN = Plan(
    secret=SECRET,
    tables=(
        TablePlan(
            "main",
            "people",
            "main",
            "copy",
            (ColumnRule("email", "email", "email"),),
            copy_unmapped=True,
        ),
    ),
)
CREATE = [("main", "people", "main", "copy")]


def _run(src, tgt, **kw):
    with (
        masking.connect(ConnectionParams(dialect="sqlite", database=str(src))) as source,
        masking.connect(ConnectionParams(dialect="sqlite", database=str(tgt))) as target,
    ):
        return masking.run(PLAN, source, target, create_targets=CREATE, **kw)


def test_creates_the_missing_target_and_reports_it(pair):
    src, tgt = pair
    result = _run(src, tgt)
    assert result.created_tables == ("main.copy",) and result.rows_processed == 2
    db = sqlite3.connect(tgt)
    emails = {r[0] for r in db.execute("SELECT email FROM copy")}
    assert len(emails) == 2 and not emails & {"ada@example.com", "alan@example.com"}
    assert _run(src, tgt, progress=None).created_tables == ()  # exists now: not created again


class _CancelAtOnce(NullProgress):
    def should_cancel(self) -> bool:
        return True


def test_cancelled_run_drops_what_it_created(pair):
    src, tgt = pair
    with pytest.raises(Cancelled) as stopped:
        _run(src, tgt, progress=_CancelAtOnce())
    assert stopped.value.dropped_tables == ["main.copy"]
    assert "copy" not in _tables(tgt)


def test_failed_run_drops_created_but_never_existing_tables(pair, monkeypatch):
    src, tgt = pair
    _db(tgt, "CREATE TABLE keep_me (id INTEGER)")

    def fail(*args, **kwargs):
        raise TerminalError("refused")

    monkeypatch.setattr("masking.pipeline.run", fail)
    with pytest.raises(TerminalError) as failed:
        _run(src, tgt)
    assert failed.value.dropped_tables == ["main.copy"]
    assert _tables(tgt) == {"keep_me"}


def test_a_created_table_others_wrote_to_stays(pair, monkeypatch):
    src, tgt = pair

    def others_write_then_fail(plan, source, target, progress, **kw):
        _db(tgt, "INSERT INTO copy (id, email) VALUES (9, 'x')")
        raise TerminalError("refused")

    monkeypatch.setattr("masking.pipeline.run", others_write_then_fail)
    with pytest.raises(TerminalError) as failed:
        _run(src, tgt)
    assert failed.value.dropped_tables == []
    assert "copy" in _tables(tgt)
