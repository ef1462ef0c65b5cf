"""Subsets on PostgreSQL → PostgreSQL: the demo schema, Chinook, a composite key across two
schemas, and the same rows sampled as on SQLite (tests/masking/test_subset*.py)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import sqlglot

from apps.core.demo import SCHEMA, TABLES, build_source
from masking import Plan, TablePlan, run
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams
from masking.subset import Relationship, Subset, SubsetRoot
from tests import services
from tests.live.test_etl_chinook import load_chinook
from tests.masking.subset_oracle import actual, expected, orphans
from tests.masking.test_subset import assert_whole, demo_plan, ten_percent
from tests.masking.test_subset_chinook import check_chinook_subset

pytestmark = pytest.mark.live


def pg_query(params):  # type: ignore[no-untyped-def]
    def query(sql: str) -> list[tuple]:
        with psycopg.connect(services.postgres_dsn(params.database)) as conn:
            return conn.execute(sql).fetchall()

    return query


def pg_run(params, sql: str) -> None:  # type: ignore[no-untyped-def]
    with psycopg.connect(services.postgres_dsn(params.database), autocommit=True) as conn:
        conn.execute(sql.encode())


def load_demo(tmp_path: Path, src, tgt) -> None:  # type: ignore[no-untyped-def]
    """The demo schema on both databases, and the demo rows copied into the source."""
    schema = SCHEMA.replace("DEFAULT 1,", "DEFAULT TRUE,").replace("DEFAULT 0", "DEFAULT FALSE")
    ddl = ";\n".join(s.sql(dialect="postgres") for s in sqlglot.parse(schema, read="sqlite") if s)
    pg_run(src, ddl)
    pg_run(tgt, ddl)
    path = tmp_path / "demo.db"
    build_source(path, rows=400, seed=7)
    lite = get_dialect(ConnectionParams("sqlite", database=str(path)))
    pg = get_dialect(src)
    try:
        plan = Plan(
            tables=tuple(TablePlan("", t, "public", t, (), None, True) for t in TABLES),
            secret=b"z" * 32,
        )
        run(plan, lite, pg)
    finally:
        lite.close()
        pg.close()


def test_demo_ten_percent_postgresql(tmp_path, pg_db_factory) -> None:  # type: ignore
    src_p, tgt_p = pg_db_factory(), pg_db_factory()
    load_demo(tmp_path, src_p, tgt_p)
    src, tgt = get_dialect(src_p), get_dialect(tgt_p)
    try:
        plan = demo_plan(ten_percent("public"), schema="public")
        first = run(plan, src, tgt)
        kept = assert_whole(pg_query(src_p), pg_query(tgt_p))
        run(plan, src, tgt)  # a re-run picks the same rows
        assert assert_whole(pg_query(src_p), pg_query(tgt_p)) == kept
        assert {c.table.split(".")[-1]: c.kept for c in first.subset} == {
            t: len(v) for t, v in kept.items()
        }
        assert not pg_query(src_p)("SELECT 1 FROM pg_tables WHERE tablename LIKE 'mf_subset%'")
    finally:
        src.close()
        tgt.close()


def test_chinook_postgresql_same_customers_as_sqlite(pg_db_factory) -> None:  # type: ignore
    src_p, tgt_p = pg_db_factory(), pg_db_factory()
    load_chinook(src_p, empty=False)
    load_chinook(tgt_p, empty=True)
    pg_run(
        tgt_p, "TRUNCATE playlist_track, playlist, track, album, artist, genre, media_type CASCADE"
    )
    tables = [
        "artist", "album", "genre", "media_type", "track", "playlist", "playlist_track",
        "employee", "customer", "invoice", "invoice_line",
    ]  # fmt: skip
    src, tgt = get_dialect(src_p), get_dialect(tgt_p)
    try:
        got = check_chinook_subset(src, tgt, "public", tables, "customer")
    finally:
        src.close()
        tgt.close()
    # Integer keys hash to the same text everywhere: the SQLite run keeps these customers too.
    from tests.masking.test_subset import sampled_ids
    from tests.masking.test_subset_chinook import SECRET

    assert {k[0] for k in got["customer"]} == sampled_ids(list(range(1, 60)), SECRET, 10)


CROSS = """
CREATE SCHEMA crm; CREATE SCHEMA sales;
CREATE TABLE crm.accounts (region TEXT, id INT, name TEXT, PRIMARY KEY (region, id));
CREATE TABLE sales.orders (
    region TEXT, id INT, account_region TEXT, account_id INT, PRIMARY KEY (region, id),
    FOREIGN KEY (account_region, account_id) REFERENCES crm.accounts (region, id));
CREATE TABLE sales.lines (
    region TEXT, order_id INT, line_no INT, parent_line INT,
    PRIMARY KEY (region, order_id, line_no),
    FOREIGN KEY (region, order_id) REFERENCES sales.orders (region, id),
    FOREIGN KEY (region, order_id, parent_line) REFERENCES sales.lines (region, order_id, line_no));
"""
FILL = """
INSERT INTO crm.accounts SELECT r, i, 'a' || i FROM unnest(ARRAY['eu','us']) r,
    generate_series(1, 40) i;
INSERT INTO sales.orders SELECT r, i, r, (i % 40) + 1 FROM unnest(ARRAY['eu','us']) r,
    generate_series(1, 120) i;
INSERT INTO sales.lines SELECT o.region, o.id, n, CASE WHEN n > 1 THEN n - 1 END
    FROM sales.orders o, generate_series(1, 3) n;
"""


def test_composite_keys_across_schemas_limited_children(pg_db_factory) -> None:  # type: ignore
    src_p, tgt_p = pg_db_factory(), pg_db_factory()
    pg_run(src_p, CROSS + FILL)
    pg_run(tgt_p, CROSS)
    tables = [("crm", "accounts"), ("sales", "orders"), ("sales", "lines")]
    subset = Subset(
        roots=(SubsetRoot("sales", "lines", percent=5),),
        relationships=(
            Relationship("sales", "orders", ("account_region", "account_id"), "limited", 1),
        ),
    )
    plan = Plan(
        tables=tuple(TablePlan(s, t, s, t, (), None, True) for s, t in tables),
        secret=b"x" * 32,
        subset=subset,
    )
    src, tgt = get_dialect(src_p), get_dialect(tgt_p)
    try:
        result = run(plan, src, tgt)
        q = pg_query(tgt_p)
        lines = set(q("SELECT region, order_id, line_no FROM sales.lines"))
        # Lines pull their order and earlier lines (parents); orders pull their account.
        assert lines and 0 < len(lines) < 720
        for region, order, line in lines:
            assert all((region, order, n) in lines for n in range(1, line))
        orders = set(q("SELECT region, id FROM sales.orders"))
        assert {(r, o) for r, o, _ in lines} == orders
        assert set(q("SELECT account_region, account_id FROM sales.orders")) == set(
            q("SELECT region, id FROM crm.accounts")
        )
        by = {(c.table): c.kept for c in result.subset}
        assert by == {"crm.accounts": len(q("SELECT * FROM crm.accounts")),
                      "sales.orders": len(orders), "sales.lines": len(lines)}  # fmt: skip
        assert not any(orphans(tgt, "sales", ["orders", "lines"]).values())
    finally:
        src.close()
        tgt.close()


def test_oracle_agrees_on_the_cross_schema_tables(pg_db_factory) -> None:  # type: ignore
    src_p, tgt_p = pg_db_factory(), pg_db_factory()
    pg_run(
        src_p,
        CROSS.replace("crm.", "sales.").replace("CREATE SCHEMA crm;", "")
        + FILL.replace("crm.", "sales."),
    )
    pg_run(tgt_p, CROSS.replace("crm.", "sales.").replace("CREATE SCHEMA crm;", ""))
    tables = ["accounts", "orders", "lines"]
    subset = Subset(roots=(SubsetRoot("sales", "accounts", rows=4),))
    plan = Plan(
        tables=tuple(TablePlan("sales", t, "sales", t, (), None, True) for t in tables),
        secret=b"y" * 32,
        subset=subset,
    )
    src, tgt = get_dialect(src_p), get_dialect(tgt_p)
    try:
        run(plan, src, tgt)
        assert actual(tgt, "sales", tables) == expected(src, "sales", tables, subset, b"y" * 32)
    finally:
        src.close()
        tgt.close()
