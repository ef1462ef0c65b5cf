"""Subsets on SQL Server → SQL Server: key tables are #temporary tables on the run's source
connection, the sample hash is computed by the server (HASHBYTES) and picks the same integer
keys as every other database, a root of N rows takes TOP (N), and composite keys are matched
with EXISTS (T-SQL has no row values)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlglot

from apps.core.demo import SCHEMA, TABLES, build_source
from masking import Plan, TablePlan, run
from masking.dialects import get_dialect
from masking.subset import Subset, SubsetRoot
from tests.masking.subset_oracle import actual, expected, orphans
from tests.masking.test_subset import assert_whole, demo_plan, ten_percent

pytestmark = [pytest.mark.live, pytest.mark.sqlserver]


def ms_query(params):  # type: ignore[no-untyped-def]
    def query(sql: str) -> list[tuple]:
        with get_dialect(params) as d:
            cur = d.connect().cursor()
            cur.execute(sql)
            rows = [tuple(r) for r in cur.fetchall()]
            cur.close()
            return rows

    return query


def ms_run(params, script: str) -> None:  # type: ignore[no-untyped-def]
    with get_dialect(params) as d:
        for stmt in sqlglot.parse(script, read="sqlite"):
            if stmt is not None:
                d.execute(stmt.sql(dialect="tsql"))


def test_demo_ten_percent_sql_server(tmp_path: Path, sqlserver_db_factory) -> None:  # type: ignore[no-untyped-def]
    src_p, tgt_p = sqlserver_db_factory(), sqlserver_db_factory()
    for p in (src_p, tgt_p):
        ms_run(p, SCHEMA)
    path = tmp_path / "demo.db"
    build_source(path, rows=400, seed=7)
    with sqlite3.connect(path) as lite, get_dialect(src_p) as loader:
        cur = loader.connect().cursor()
        for table in ("customers", "addresses", "employees", "orders", "payments"):
            rows = lite.execute(f"SELECT * FROM {table} ORDER BY id")
            marks = ", ".join(["?"] * len(rows.description))
            cur.executemany(f"INSERT INTO dbo.{table} VALUES ({marks})", rows.fetchall())
        cur.close()
    plan = demo_plan(ten_percent("dbo"), schema="dbo")
    with get_dialect(src_p) as src, get_dialect(tgt_p) as tgt:
        result = run(plan, src, tgt)
        assert result.fk_ok
    kept = assert_whole(ms_query(src_p), ms_query(tgt_p))
    assert {c.table.split(".")[-1]: c.kept for c in result.subset} == {
        t: len(kept[t]) for t in TABLES
    }


PAIRS = """
CREATE TABLE regions (code VARCHAR(5) NOT NULL, n INTEGER NOT NULL, name VARCHAR(20),
                      PRIMARY KEY (code, n));
CREATE TABLE sales (id INTEGER PRIMARY KEY, code VARCHAR(5), n INTEGER, amount INTEGER,
                    FOREIGN KEY (code, n) REFERENCES regions (code, n));
"""


def test_composite_keys_and_a_root_of_n_rows_sql_server(sqlserver_db_factory) -> None:  # type: ignore[no-untyped-def]
    src_p, tgt_p = sqlserver_db_factory(), sqlserver_db_factory()
    for p in (src_p, tgt_p):
        ms_run(p, PAIRS)
    with get_dialect(src_p) as d:
        for i in range(1, 31):
            d.execute(f"INSERT INTO dbo.regions VALUES ('r{i % 4}', {i}, 'region {i}')")
        for s in range(1, 301):
            i = s % 30 + 1
            d.execute(f"INSERT INTO dbo.sales VALUES ({s}, 'r{i % 4}', {i}, {s * 3})")
    tables = ["regions", "sales"]
    subset = Subset(roots=(SubsetRoot("dbo", "regions", rows=4),))
    plan = Plan(
        tables=tuple(TablePlan("dbo", t, "dbo", t, (), None, True) for t in tables),
        secret=b"s" * 32,
        subset=subset,
    )
    with get_dialect(src_p) as src, get_dialect(tgt_p) as tgt:
        result = run(plan, src, tgt)
        got = actual(tgt, "dbo", tables)
        assert got == expected(src, "dbo", tables, subset, b"s" * 32)
        assert not any(orphans(tgt, "dbo", tables).values())
    assert result.fk_ok and len(got["regions"]) == 4 and len(got["sales"]) == 40
