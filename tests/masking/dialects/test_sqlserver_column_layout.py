"""The column layout of the SQL Server bulk load (one staging table per column, for a server
whose bulk-copy client sees one column of a table): the live copies while rows are read, the
spool, the sessions taking columns in turn, and failure and discard on the way."""

from __future__ import annotations

import tempfile
import threading
import time

import pytest

from masking.dialects import sqlserver_bulk as bulk
from masking.dialects import sqlserver_load as load
from tests.masking.dialects.sqlserver_fakes import (
    LOADED,
    TABLE,
    FakeCore,
    FakeCursor,
    batch,
    rows_of,
    wait_for,
)


def test_the_column_layout_copies_its_first_column_live_spools_the_rest_and_indexes_each(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    log = []
    stage = load.StagedLoad(
        FakeCore(log, concat_ok=False), TABLE, LOADED, "ab12", joined=True, timeout=5, flush_rows=3
    )
    for n in (3, 3, 2):
        stage.add(batch(n))
    tables = [bulk.q.qualified("sales", n) for n in stage.names]
    # the first column's first flush is copied while rows still come; the others are spooled
    wait_for(lambda: [e[1:3] for e in log if e[0] == "copy"] == [(tables[0], 3)])
    assert len(list(tmp_path.iterdir())) == 1
    stage.finish()
    copies = [e for e in log if e[0] == "copy"]
    assert [(c[1], c[2]) for c in copies] == [(t, r) for t in tables for r in (3, 5)]
    assert list(tmp_path.iterdir()) == []  # the spool is removed
    # each stage is indexed on rn once filled, before the next one is copied
    after = [e for e in log if e[0] == "copy" or "INDEX" in e[1]]
    assert [e[1] for e in after] == [
        x
        for n, t in zip(stage.names, tables, strict=True)
        for x in (t, t, f"CREATE UNIQUE CLUSTERED INDEX [{n}_rn] ON {t} ([rn])")
    ]


class Paced(FakeCore):
    """Each bulk copy takes a moment, so that two sessions both get columns to copy."""

    def __init__(self, log, name, fail_on=None):
        super().__init__(log, concat_ok=False)
        self.name, self.fail_on = name, fail_on

    def cursor(self):
        core, cur = self, FakeCursor(self)

        def bulkcopy_arrow(name, data, **kw):
            rows = rows_of(data)
            time.sleep(0.02)
            if core.fail_on and name.endswith(core.fail_on):
                raise RuntimeError("Sql Error: the copy failed")
            core.log.append(("copy", core.name, name, rows))

        def execute(sql):
            core.log.append(("aux", core.name, sql))

        cur.bulkcopy_arrow, cur.execute = bulkcopy_arrow, execute
        return cur


def _column_stage(tmp_path, monkeypatch, log, first, second, flushes=(3, 3, 2)):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stage = load.StagedLoad(
        first, TABLE, LOADED, "ab12", joined=True, timeout=5, flush_rows=3, second=second
    )
    for n in flushes:
        stage.add(batch(n))
    return stage


def test_the_column_layout_fills_two_tables_at_once_on_a_second_session(tmp_path, monkeypatch):
    log = []
    opened = []

    def second():
        opened.append(1)
        return Paced(log, "second")

    stage = _column_stage(tmp_path, monkeypatch, log, Paced(log, "first"), second)
    tables = [bulk.q.qualified("sales", n) for n in stage.names]
    # while rows come, each session copies one column of its own (its first flush alone)
    wait_for(lambda: len([e for e in log if e[0] == "copy"]) == 2)
    early = [e[1:] for e in log if e[0] == "copy"]
    assert sorted(early) == [("first", tables[0], 3), ("second", tables[1], 3)]
    stage.finish()
    assert opened == [1]
    copies = [e for e in log if e[0] == "copy"]
    # every column's table got all its rows exactly once, in two bulk copies (3, then 5)
    assert sorted((c[2], c[3]) for c in copies) == sorted((t, r) for t in tables for r in (3, 5))
    assert {c[1] for c in copies} == {"first", "second"}  # both sessions copied
    for t, n in zip(tables, stage.names, strict=True):
        who = {c[1] for c in copies if c[2] == t}
        assert len(who) == 1  # one table, one session: its copies, then its index
        index = f"CREATE UNIQUE CLUSTERED INDEX [{n}_rn] ON {t} ([rn])"
        assert [e[1] for e in log if e[0] == "aux" and e[2] == index] == list(who)
        last_copy = max(i for i, e in enumerate(log) if e[0] == "copy" and e[2] == t)
        assert [i for i, e in enumerate(log) if e[0] == "aux" and e[2] == index][0] > last_copy
    assert list(tmp_path.iterdir()) == []
    assert not any(t.name == "maskflow-bulk" for t in threading.enumerate())


def test_a_failed_column_copy_stops_both_sessions_and_is_raised(tmp_path, monkeypatch):
    log = []
    first, second = Paced(log, "first", "_2]"), Paced(log, "second", "_2]")
    stage = _column_stage(tmp_path, monkeypatch, log, first, lambda: second)
    with pytest.raises(RuntimeError, match="the copy failed"):
        stage.finish()
    copied = {e[2] for e in log if e[0] == "copy"}
    # columns 0 and 1 went live; of the spooled 2, 3 and 4, the copy of 2 failed and stopped
    # the sessions from taking another: 4 was never copied
    assert len(copied) == 3 and not any(t.endswith("_4]") for t in copied)
    assert not any(t.name == "maskflow-bulk" for t in threading.enumerate())
    assert list(tmp_path.iterdir()) == []
    stage.discard()
    drops = [e[2] for e in log if e[0] == "aux" and "DROP TABLE" in e[2]]
    assert len(drops) == len(stage.names)


def test_a_failed_live_copy_surfaces_and_discard_stops_the_live_copies(tmp_path, monkeypatch):
    log = []
    stage = _column_stage(
        tmp_path, monkeypatch, log, Paced(log, "first"), lambda: Paced(log, "second", "_1]"), ()
    )
    with pytest.raises(RuntimeError, match="the copy failed"):
        for _ in range(100):  # the failure reaches the caller at a later flush, or at finish
            stage.add(batch(3))
            time.sleep(0.01)
        stage.finish()
    stage.discard()
    assert not any(t.name == "maskflow-bulk" for t in threading.enumerate())
    assert list(tmp_path.iterdir()) == []
    drops = [e[2] for e in log if e[0] == "aux" and "DROP TABLE" in e[2]]
    assert len(drops) == len(stage.names)
    # the live copy of column 0, stopped by discard, did not index a table about to go
    assert not any(e[0] == "aux" and "INDEX" in e[2] for e in log)


def test_a_second_session_that_cannot_open_leaves_every_column_to_the_first(
    tmp_path, monkeypatch, caplog
):
    log = []

    def second():
        raise ConnectionError("login failed for user 'secret-login'")

    stage = _column_stage(tmp_path, monkeypatch, log, Paced(log, "first"), second)
    stage.finish()
    copies = [e for e in log if e[0] == "copy"]
    assert {c[1] for c in copies} == {"first"}
    assert len({c[2] for c in copies}) == len(stage.names)
    assert "second bulk-copy session could not open (ConnectionError)" in caplog.text
    assert "secret-login" not in caplog.text


def test_a_discarded_column_layout_removes_its_spool(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stage = load.StagedLoad(
        FakeCore([], concat_ok=False), TABLE, LOADED, "ab12", joined=True, timeout=5, flush_rows=3
    )
    stage.add(batch(3))
    assert list(tmp_path.iterdir())
    stage.discard()
    assert list(tmp_path.iterdir()) == []


def test_sessions_take_items_in_turn_each_once_and_at_once():
    taken, both = [], threading.Barrier(2, timeout=5)

    def copy(session, i):
        if i < 2:
            both.wait()  # the first two items run at the same time, on different sessions
        taken.append((session, i))

    load.take_in_turn(["a", "b"], range(6), copy)
    assert sorted(i for _, i in taken) == list(range(6))
    assert {s for s, i in taken if i < 2} == {"a", "b"}
    assert not any(t.name == "maskflow-bulk" for t in threading.enumerate())


def test_a_failed_item_stops_every_session_and_the_first_failure_is_raised():
    taken = []

    def copy(session, i):
        time.sleep(0.01)
        if i == 1:
            raise RuntimeError("Sql Error: item 1 failed")
        taken.append(i)

    with pytest.raises(RuntimeError, match="item 1 failed"):
        load.take_in_turn(["a", "b"], range(10), copy)
    assert len(taken) < 4  # at most what was in flight when item 1 failed
    assert not any(t.name == "maskflow-bulk" for t in threading.enumerate())
