"""datetimeoffset keeps each row's offset, not only its instant, SQL Server → SQL Server: by
bulk copy, by the fast_executemany fallback and by a staged run in units; masked with a
date-time shift, an instant moves and keeps its row's offset. Into PostgreSQL (which keeps no
offset) the instant arrives exactly."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import pytest

from masking import run
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams, Dialect
from masking.plan import ColumnRule, Plan, TablePlan
from masking.staged import run_staged
from tests.masking.test_pipeline import execute, fetch

pytestmark = [pytest.mark.live, pytest.mark.sqlserver]

SECRET = b"offsets-secret-0123456789abcdef0"
TABLE = (
    "CREATE TABLE dbo.events (id int PRIMARY KEY, at datetimeoffset(7), shifted datetimeoffset(7))"
)
OFFSETS = ["+05:30", "-08:00", "+00:00", "+14:00", "-12:00", "+09:45"]
# instant (UTC, ISO text) and offset in minutes, per row
READ = (
    "SELECT id, CONVERT(nvarchar(40), SWITCHOFFSET(at, '+00:00'), 127), DATEPART(TZOFFSET, at), "
    "CONVERT(nvarchar(40), SWITCHOFFSET(shifted, '+00:00'), 127), DATEPART(TZOFFSET, shifted) "
    "FROM dbo.events ORDER BY id"
)


def _seed(d: Dialect, rows: int) -> None:
    execute(d, TABLE)
    execute(d, "INSERT INTO dbo.events (id) VALUES (?)", [(i,) for i in range(1, rows + 1)])
    for i, offset in enumerate(OFFSETS):
        execute(
            d,
            "UPDATE dbo.events SET at = TODATETIMEOFFSET(DATEADD(second, id * 37, "
            f"CAST('2024-03-31 01:30:00.1234560' AS datetime2(7))), '{offset}') "
            f"WHERE id % {len(OFFSETS) + 1} = {i}",
        )
    execute(d, "UPDATE dbo.events SET shifted = at")  # id % 7 = 6: both NULL


def _plan(batch_size: int = 50) -> Plan:
    rules = (ColumnRule("shifted", "shifted", "datetime_shift", {"min_days": 1, "max_days": 9}),)
    return Plan(
        tables=(TablePlan("dbo", "events", "dbo", "events", rules, None, True),),
        secret=SECRET,
        batch_size=batch_size,
    )


def _check(before: list[tuple], after: list[tuple]) -> None:
    assert len(after) == len(before) == 300
    for (i, at, off, sh, sh_off), (j, at2, off2, sh2, sh_off2) in zip(before, after, strict=True):
        assert (j, at2, off2) == (i, at, off), f"row {i}: the copy changed"
        assert sh_off2 == sh_off, f"row {i}: the masked value lost its offset"
        assert (sh2 is None) == (sh is None) and (sh is None or sh2 != sh)
    assert {o for _, _, o, _, _ in after} == {330, -480, 0, 840, -720, 585, None}


@pytest.mark.parametrize("bulk_copy", [True, False], ids=["bulk-copy", "fast-executemany"])
def test_each_rows_offset_is_kept(
    sqlserver_db_factory: Callable[[], ConnectionParams], bulk_copy: bool
) -> None:
    params = sqlserver_db_factory()
    target = dataclasses.replace(params, options={**params.options, "bulk_copy": bulk_copy})
    src, tgt = get_dialect(sqlserver_db_factory()), get_dialect(target)
    try:
        _seed(src, 300)
        execute(tgt, TABLE)
        result = run(_plan(), src, tgt)
        assert result.tables[0].load_path.startswith("bulk copy" if bulk_copy else "fast_exec")
        _check(fetch(src, READ), fetch(tgt, READ))
    finally:
        src.close()
        tgt.close()


def test_a_run_in_units_keeps_each_rows_offset(
    sqlserver_db_factory: Callable[[], ConnectionParams],
) -> None:
    src, tgt = get_dialect(sqlserver_db_factory()), get_dialect(sqlserver_db_factory())
    try:
        _seed(src, 300)
        execute(tgt, TABLE)
        result = run_staged(_plan(), src, tgt, "tz1", unit_rows=60)
        assert result.rows_processed == 300
        _check(fetch(src, READ), fetch(tgt, READ))
    finally:
        src.close()
        tgt.close()


def test_into_postgresql_the_instant_arrives_exactly(
    sqlserver_db_factory: Callable[[], ConnectionParams], pg_db: ConnectionParams
) -> None:
    src, tgt = get_dialect(sqlserver_db_factory()), get_dialect(pg_db)
    try:
        _seed(src, 300)
        execute(
            tgt, "CREATE TABLE events (id int PRIMARY KEY, at timestamptz, shifted timestamptz)"
        )
        plan = dataclasses.replace(
            _plan(), tables=(TablePlan("dbo", "events", "public", "events", (), None, True),)
        )
        run(plan, src, tgt)
        expected = [
            (i, None if at is None else dt.datetime.fromisoformat(at.replace("Z", "+00:00")))
            for i, at, *_ in fetch(src, READ)
        ]
        got = fetch(tgt, "SELECT id, at FROM events ORDER BY id")
        assert [(i, a) for i, a in got] == expected
    finally:
        src.close()
        tgt.close()
