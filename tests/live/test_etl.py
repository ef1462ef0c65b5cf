"""The SQLite scenario of tests/masking/test_pipeline.py replayed across real servers:
PostgreSQL → PostgreSQL, MariaDB → PostgreSQL and PostgreSQL → MariaDB."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from masking import Cancelled, ValidationFailed, run
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams, Dialect
from tests import services
from tests.masking.test_pipeline import (
    Recorder,
    assert_masked_copy,
    execute,
    make_plan,
    seed,
    snapshot,
)

pytestmark = pytest.mark.live


@pytest.fixture
def pg_db2() -> Iterator[ConnectionParams]:
    """A second throwaway PostgreSQL database (the conftest fixture gives one per test)."""
    services.require_service("PostgreSQL", services.PG_HOST, services.PG_PORT)
    import psycopg
    from psycopg import sql

    name = f"maskflow_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(services.postgres_dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield services.postgres_params(name)
    finally:
        with psycopg.connect(services.postgres_dsn(), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _open(src: ConnectionParams, tgt: ConnectionParams) -> tuple[Dialect, Dialect]:
    return get_dialect(src), get_dialect(tgt)


MSSQL = pytest.mark.sqlserver


@pytest.fixture(
    params=[
        "pg-pg",
        "mariadb-pg",
        "pg-mariadb",
        pytest.param("mssql-mssql", marks=MSSQL),
        pytest.param("pg-mssql", marks=MSSQL),
        pytest.param("mssql-pg", marks=MSSQL),
    ]
)
def pair(request) -> Iterator[tuple[Dialect, Dialect]]:  # type: ignore[no-untyped-def]
    src_name, tgt_name = request.param.split("-")
    if request.param == "mssql-mssql":
        factory = request.getfixturevalue("sqlserver_db_factory")
        src_params, tgt_params = factory(), factory()
    else:
        fixtures = {"pg": "pg_db", "mariadb": "mariadb_db", "mssql": "sqlserver_db"}
        src_params = request.getfixturevalue(fixtures[src_name])
        tgt_params = request.getfixturevalue(
            "pg_db2" if request.param == "pg-pg" else fixtures[tgt_name]
        )
    src, tgt = _open(src_params, tgt_params)
    yield src, tgt
    src.close()
    tgt.close()


def _staging_left(tgt: Dialect) -> list:
    """SQL Server: staging tables a run left in the target (none, whatever happened)."""
    if tgt.name != "sqlserver":
        return []
    cur = tgt.connect().cursor()
    try:
        cur.execute("SELECT name FROM sys.tables WHERE name LIKE 'maskflow[_]stage[_]%'")
        return [tuple(r) for r in cur.fetchall()]
    finally:
        cur.close()


def _prefill(tgt: Dialect) -> dict:
    from tests.masking.test_pipeline import customer_rows, order_rows

    execute(
        tgt,
        "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        customer_rows(3, seed=99),
    )
    execute(tgt, "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)", order_rows(3, 5, seed=98))
    return snapshot(tgt)


def test_masked_copy_keeps_joins(pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt = pair
    seed(src)
    seed(tgt, with_data=False)
    _prefill(tgt)  # truncate mode replaces it
    result = run(make_plan(src, tgt), src, tgt)
    assert_masked_copy(src, tgt, result, customers=250, orders=700)
    if tgt.name == "sqlserver":  # every table through bulk copy, and the report says so
        assert {t.load_path for t in result.tables} <= {
            "bulk copy",
            "bulk copy, one staging table per column",
        }
        assert _staging_left(tgt) == []
    first = snapshot(tgt)
    run(make_plan(src, tgt, batch_size=500), src, tgt)
    assert snapshot(tgt) == first  # deterministic across runs and batch sizes


def test_failure_at_late_batch_rolls_back(pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt = pair
    seed(src, null_note_at=400)
    seed(tgt, with_data=False, note_not_null=True)
    before = _prefill(tgt)
    with pytest.raises(ValidationFailed) as err:
        run(make_plan(src, tgt), src, tgt)
    assert (err.value.column, err.value.rule) == ("note", "not_null")
    assert "row #400 (batch 7)" in str(err.value)
    assert snapshot(tgt) == before
    assert _staging_left(tgt) == []


def test_cancel_rolls_back(pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt = pair
    seed(src)
    seed(tgt, with_data=False)
    before = _prefill(tgt)
    with pytest.raises(Cancelled):
        run(make_plan(src, tgt), src, tgt, Recorder(cancel_after=6))
    assert snapshot(tgt) == before
    assert _staging_left(tgt) == []
