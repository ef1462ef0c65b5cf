"""Staged runs into SQL Server: units staged in the target database, published in one
INSERT ... SELECT per table; the copy equals a run in one transaction, and a failure in the
publish or a cancel during the load leaves the target as it was, with no staging left."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from masking.dialects import get_dialect
from masking.dialects.base import Dialect
from masking.errors import Cancelled, MaskingError
from masking.pipeline import run
from masking.staged import finish, prepare, run_staged, run_unit
from tests.live import staged_schema as S
from tests.live.test_staged_run import UNIT_ROWS, _CancelAfter

pytestmark = [pytest.mark.live, pytest.mark.sqlserver]


@pytest.fixture
def source(pg_db) -> Dialect:  # type: ignore[no-untyped-def]
    src = get_dialect(pg_db)
    S.create(src, seed=True)
    yield src
    src.close()


@pytest.fixture
def target(sqlserver_db_factory, source) -> Callable[[], Dialect]:  # type: ignore[no-untyped-def]
    """A new SQL Server database holding the four tables, shaped like the source's."""
    opened: list[Dialect] = []

    def make() -> Dialect:
        tgt = get_dialect(sqlserver_db_factory())
        for name in S.TABLES:
            info = source.describe_table("public", name)
            tgt.execute(tgt.create_table_sql(info, "dbo", name, source_dialect="postgresql"))
        opened.append(tgt)
        return tgt

    yield make
    for tgt in opened:
        tgt.close()


def _rows(tgt: Dialect) -> dict[str, list[tuple]]:
    cur = tgt.connect().cursor()
    try:
        out = {}
        for name in S.TABLES:
            cur.execute(f"SELECT * FROM dbo.{name} ORDER BY id")
            out[name] = [tuple(r) for r in cur.fetchall()]
        return out
    finally:
        cur.close()


def _staging(tgt: Dialect) -> list[str]:
    return sorted(t.name for t in tgt.list_tables("dbo") if t.name.startswith("mf_stage_"))


def test_units_staged_in_sql_server_equal_a_run_in_one_transaction(source, target) -> None:  # type: ignore[no-untyped-def]
    whole, split = target(), target()
    run(S.plan("public", "dbo"), source, whole)
    result = run_staged(S.plan("public", "dbo"), source, split, "ms1", unit_rows=UNIT_ROWS)
    assert result.rows_processed == sum(S.SIZES.values())
    assert {t.load_path for t in result.tables} == {"staged, INSERT … SELECT"}
    assert 0 < result.lock_seconds < result.duration
    expected = _rows(whole)
    assert [len(expected[t]) for t in S.TABLES] == [S.SIZES[t] for t in S.TABLES]
    assert _rows(split) == expected
    assert _staging(split) == []


def test_a_failure_in_the_publish_leaves_sql_server_as_it_was(source, target) -> None:  # type: ignore[no-untyped-def]
    tgt = target()
    # Append mode onto a key the masked copy repeats: the publish must fail.
    tgt.execute("INSERT INTO dbo.customers VALUES (7, 'kept@example.org', 'Kept', 'Here')")
    before = _rows(tgt)
    plan = S.plan("public", "dbo", target_mode="append")
    layout = prepare(plan, source, tgt, "ms2", unit_rows=UNIT_ROWS)
    assert len(layout.units) >= 8
    for unit in layout.units:
        run_unit(plan, layout, unit.index, source, tgt)
    assert _staging(tgt)
    with pytest.raises(MaskingError) as info:
        finish(plan, layout, source, tgt)
    assert "kept" not in str(info.value)
    assert _rows(tgt) == before
    assert _staging(tgt) == []


def test_a_cancel_during_the_load_leaves_sql_server_as_it_was(source, target) -> None:  # type: ignore[no-untyped-def]
    tgt = target()
    tgt.execute("INSERT INTO dbo.customers VALUES (1, 'kept@example.org', 'Kept', 'Here')")
    before = _rows(tgt)
    with pytest.raises(Cancelled):
        run_staged(
            S.plan("public", "dbo"),
            source,
            tgt,
            "ms3",
            unit_rows=UNIT_ROWS,
            progress=_CancelAfter(12),
        )
    assert _rows(tgt) == before
    assert _staging(tgt) == []


def test_each_unit_reads_one_snapshot_of_a_sql_server_source(sqlserver_db_factory) -> None:  # type: ignore[no-untyped-def]
    params = sqlserver_db_factory()
    src, writer = get_dialect(params), get_dialect(params)
    try:
        src.execute("CREATE TABLE dbo.t (id int PRIMARY KEY)")
        src.execute("INSERT INTO dbo.t VALUES (1), (2)")
        assert src.read_consistency == "unit"  # the database allows SNAPSHOT isolation
        info = src.describe_table("dbo", "t")
        with src.snapshot_reads(None):
            assert src.count_rows(info) == 2
            writer.execute("INSERT INTO dbo.t VALUES (3)")
            assert src.count_rows(info) == 2  # the unit's view does not move
        assert src.count_rows(info) == 3
        cur = src.connect().cursor()
        cur.execute(
            "SELECT transaction_isolation_level FROM sys.dm_exec_sessions WHERE session_id = @@SPID"
        )
        assert cur.fetchone()[0] == 2  # back to READ COMMITTED for what follows
        cur.close()
    finally:
        src.close()
        writer.close()


def test_many_flushes_stream_into_sql_server_as_one_flush_does(source, target, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Small flushes: each table's first goes in a bulk copy of its own, the rest streamed
    (spooled first where the server needs one staging table per column)."""
    from masking.dialects import sqlserver_load

    one, many = target(), target()
    run(S.plan("public", "dbo"), source, one)
    calls: list[str] = []
    real = sqlserver_load.stream_copy

    def counted(conn, name, columns, tables, timeout):  # type: ignore[no-untyped-def]
        calls.append(name)
        return real(conn, name, columns, tables, timeout)

    monkeypatch.setattr(sqlserver_load, "FLUSH_ROWS", 70)
    monkeypatch.setattr(sqlserver_load, "stream_copy", counted)
    run(S.plan("public", "dbo"), source, many)
    assert calls  # tables of more than 70 rows streamed
    assert _rows(many) == _rows(one)
    assert _staging(many) == []
