"""PostgreSQL and MariaDB → SQL Server into target tables the run creates (DDL transpiled from
the source's): the masked copy lands through bulk copy and keeps its joins; a cancelled run
drops the tables it created, so the target is as it was."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from masking import Cancelled, run
from masking.dialects import get_dialect
from masking.dialects.base import Dialect
from tests.masking.test_pipeline import Recorder, assert_masked_copy, make_plan, seed

pytestmark = [pytest.mark.live, pytest.mark.sqlserver]
TABLES = ("customers", "orders")


@pytest.fixture(params=["pg", "mariadb"])
def pair(request) -> Iterator[tuple[Dialect, Dialect]]:  # type: ignore[no-untyped-def]
    source = request.getfixturevalue({"pg": "pg_db", "mariadb": "mariadb_db"}[request.param])
    src, tgt = get_dialect(source), get_dialect(request.getfixturevalue("sqlserver_db"))
    yield src, tgt
    src.close()
    tgt.close()


def _create(src: Dialect) -> list[tuple[str, str, str, str]]:
    schema = src.capabilities.default_schema if src.capabilities.supports_schemas else ""
    return [(schema, t, "dbo", t) for t in TABLES]


def _tables(tgt: Dialect) -> set[str]:
    return {t.name for t in tgt.list_tables("dbo")}


def test_run_creates_sql_server_tables_and_bulk_loads_them(pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt = pair
    seed(src)
    assert _tables(tgt) == set()
    result = run(make_plan(src, tgt), src, tgt, create_targets=_create(src))
    assert sorted(result.created_tables) == ["dbo.customers", "dbo.orders"]
    assert_masked_copy(src, tgt, result, customers=250, orders=700)
    assert {t.load_path for t in result.tables} <= {
        "bulk copy",
        "bulk copy, one staging table per column",
    }
    customers = tgt.describe_table("dbo", "customers")
    assert customers.primary_key == ("id",)
    assert {u.columns for u in customers.unique_constraints} >= {("code",)}


def test_cancelled_run_drops_the_sql_server_tables_it_created(pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt = pair
    seed(src)
    with pytest.raises(Cancelled) as err:
        run(
            make_plan(src, tgt),
            src,
            tgt,
            Recorder(cancel_after=3),
            create_targets=_create(src),
        )
    assert sorted(err.value.dropped_tables) == ["dbo.customers", "dbo.orders"]  # type: ignore[attr-defined]
    assert _tables(tgt) == set()
