"""Subsets on MariaDB → MariaDB, where a temporary table may be named once per statement, so
new keys go through a scratch table: the demo schema, a self-reference and a two-table cycle."""

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

pytestmark = pytest.mark.live


def my_query(params):  # type: ignore[no-untyped-def]
    def query(sql: str) -> list[tuple]:
        with get_dialect(params) as d:
            cur = d.connect().cursor()
            cur.execute(sql)
            rows = list(cur.fetchall())
            cur.close()
            return rows

    return query


def my_run(params, script: str) -> None:  # type: ignore[no-untyped-def]
    with get_dialect(params) as d:
        for stmt in sqlglot.parse(script, read="sqlite"):
            if stmt is not None:
                d.execute(stmt.sql(dialect="mysql"))


def test_demo_ten_percent_mariadb(tmp_path: Path, mariadb_db_factory) -> None:  # type: ignore
    src_p, tgt_p = mariadb_db_factory(), mariadb_db_factory()
    for p in (src_p, tgt_p):
        my_run(p, SCHEMA)
    path = tmp_path / "demo.db"
    build_source(path, rows=400, seed=7)
    with sqlite3.connect(path) as lite, get_dialect(src_p) as loader:
        conn = loader.connect()
        cur = conn.cursor()
        cur.execute("SET FOREIGN_KEY_CHECKS = 0")
        for table in TABLES:
            rows = lite.execute(f"SELECT * FROM {table}")
            marks = ", ".join(["%s"] * len(rows.description))
            cur.executemany(f"INSERT INTO {table} VALUES ({marks})", rows.fetchall())
        cur.execute("SET FOREIGN_KEY_CHECKS = 1")
        conn.commit()
    subset = ten_percent(src_p.database)
    kept = []
    # Each run into a fresh target: InnoDB checks a self-reference row by row, so clearing
    # `employees` for a re-run in place is refused by the database (a target-side limit).
    for target in (tgt_p, mariadb_db_factory()):
        if target is not tgt_p:
            my_run(target, SCHEMA)
        plan = Plan(
            tables=tuple(
                TablePlan(src_p.database, t, target.database, t, (), None, True) for t in TABLES
            ),
            secret=demo_plan(None).secret,
            subset=subset,
        )
        with get_dialect(src_p) as src, get_dialect(target) as tgt:
            run(plan, src, tgt)
        kept.append(assert_whole(my_query(src_p), my_query(target)))
    assert kept[0] == kept[1]


TWO_TABLES = """
CREATE TABLE teams (id INTEGER PRIMARY KEY, name VARCHAR(20), lead_id INTEGER);
CREATE TABLE people (id INTEGER PRIMARY KEY, team_id INTEGER, name VARCHAR(20), mentor_id INTEGER);
"""
KEYS = """
ALTER TABLE teams ADD FOREIGN KEY (lead_id) REFERENCES people (id);
ALTER TABLE people ADD FOREIGN KEY (team_id) REFERENCES teams (id);
ALTER TABLE people ADD FOREIGN KEY (mentor_id) REFERENCES people (id);
"""


def test_cycle_and_self_reference_mariadb(mariadb_db_factory) -> None:  # type: ignore
    src_p, tgt_p = mariadb_db_factory(), mariadb_db_factory()
    my_run(src_p, TWO_TABLES)
    my_run(tgt_p, TWO_TABLES)
    with get_dialect(src_p) as d:
        for t in range(1, 21):
            d.execute(f"INSERT INTO teams VALUES ({t}, 'team {t}', {t * 5})")
        for p in range(1, 101):  # a mentor every ten people: chains of ten
            mentor = "NULL" if p % 10 == 1 else str(p - 1)
            d.execute(f"INSERT INTO people VALUES ({p}, {(p - 1) // 5 + 1}, 'p{p}', {mentor})")
    my_run(src_p, KEYS)
    # The target drops the cycle's back edge: the load is parents first, one table at a time.
    my_run(tgt_p, KEYS.split(";", 1)[1])
    tables = ["teams", "people"]
    subset = Subset(roots=(SubsetRoot(src_p.database, "teams", rows=2),))
    plan = Plan(
        tables=tuple(
            TablePlan(src_p.database, t, tgt_p.database, t, (), None, True) for t in tables
        ),
        secret=b"c" * 32,
        subset=subset,
    )
    with get_dialect(src_p) as src, get_dialect(tgt_p) as tgt:
        result = run(plan, src, tgt)
        got = actual(tgt, tgt_p.database, tables)
        assert got == expected(src, src_p.database, tables, subset, b"c" * 32)
        assert not any(orphans(tgt, tgt_p.database, tables).values())
    assert result.fk_ok and 2 <= len(got["teams"]) < 20 and 0 < len(got["people"]) < 100
