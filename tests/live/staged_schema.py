"""A four-table schema with foreign keys for staged runs, on PostgreSQL and MariaDB, and a
worker function other processes can import."""

from __future__ import annotations

import os
from typing import Any

from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams, Dialect
from masking.plan import ColumnRule, Plan, TablePlan

TABLES = ("customers", "orders", "items", "payments")
SECRET = b"staged-live-secret"
SIZES = {"customers": 2_000, "orders": 6_000, "items": 12_000, "payments": 3_000}

PG_DDL = [
    "CREATE TABLE customers (id integer PRIMARY KEY, email varchar(120) NOT NULL UNIQUE,"
    " name varchar(80), city varchar(40))",
    "CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES"
    " customers (id), note varchar(80), amount numeric(10, 2))",
    "CREATE TABLE items (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " order_id integer NOT NULL REFERENCES orders (id), sku varchar(20))",
    "CREATE TABLE payments (id varchar(12) PRIMARY KEY, order_id integer REFERENCES"
    " orders (id), card varchar(30))",
]
PG_SEED = [
    "INSERT INTO customers SELECT g, 'person' || g || '@example.org', 'Name ' || g,"
    " 'City ' || (g % 50) FROM generate_series(1, {customers}) g",
    "INSERT INTO orders SELECT g, 1 + g % {customers}, 'note ' || g, (g % 997) / 7.0"
    " FROM generate_series(1, {orders}) g",
    "INSERT INTO items OVERRIDING SYSTEM VALUE SELECT g, 1 + g % {orders}, 'SKU-' || g"
    " FROM generate_series(1, {items}) g",
    "INSERT INTO payments SELECT lpad(g::text, 8, '0'), 1 + g % {orders},"
    " '4111 1111 1111 ' || lpad((g % 10000)::text, 4, '0') FROM generate_series(1, {payments}) g",
]
MARIADB_DDL = [
    "CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(120) NOT NULL UNIQUE,"
    " name VARCHAR(80), city VARCHAR(40))",
    "CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL, note VARCHAR(80),"
    " amount DECIMAL(10, 2), FOREIGN KEY (customer_id) REFERENCES customers (id))",
    "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, order_id INT NOT NULL,"
    " sku VARCHAR(20), FOREIGN KEY (order_id) REFERENCES orders (id))",
    "CREATE TABLE payments (id VARCHAR(12) PRIMARY KEY, order_id INT, card VARCHAR(30),"
    " FOREIGN KEY (order_id) REFERENCES orders (id))",
]
MARIADB_SEED = [
    "INSERT INTO customers SELECT seq, CONCAT('person', seq, '@example.org'),"
    " CONCAT('Name ', seq), CONCAT('City ', seq % 50) FROM seq_1_to_{customers}",
    "INSERT INTO orders SELECT seq, 1 + seq % {customers}, CONCAT('note ', seq),"
    " (seq % 997) / 7.0 FROM seq_1_to_{orders}",
    "INSERT INTO items SELECT seq, 1 + seq % {orders}, CONCAT('SKU-', seq) FROM seq_1_to_{items}",
    "INSERT INTO payments SELECT LPAD(seq, 8, '0'), 1 + seq % {orders},"
    " CONCAT('4111 1111 1111 ', LPAD(seq % 10000, 4, '0')) FROM seq_1_to_{payments}",
]


def create(dialect: Dialect, seed: bool, sizes: dict[str, int] | None = None) -> None:
    pg = dialect.name == "postgresql"
    for stmt in PG_DDL if pg else MARIADB_DDL:
        dialect.execute(stmt)
    if seed:
        for stmt in PG_SEED if pg else MARIADB_SEED:
            dialect.execute(stmt.format(**(sizes or SIZES)))


def plan(src_schema: str, tgt_schema: str, **kw: Any) -> Plan:
    rules = {
        "customers": (
            ColumnRule("email", "email", "email"),
            ColumnRule("name", "name", "full_name"),
        ),
        "payments": (ColumnRule("card", "card", "credit_card"),),
    }
    tables = tuple(
        TablePlan(src_schema, t, tgt_schema, t, rules.get(t, ()), copy_unmapped=True)
        for t in reversed(TABLES)  # the run orders them parents first
    )
    kw.setdefault("batch_size", 700)
    return Plan(tables=tables, secret=SECRET, key_version="s1", **kw)


def checksums(pg: Dialect) -> dict[str, tuple[int, str]]:
    """Row count and an md5 of every row in key order, per table (PostgreSQL target)."""
    out = {}
    cur = pg.connect().cursor()
    for t in TABLES:
        cur.execute(
            f"SELECT count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x.id), ''))"
            f" FROM public.{t} x"
        )
        out[t] = tuple(cur.fetchone())
    cur.close()
    return out


def staging_left(pg: Dialect) -> list[str]:
    return sorted(t.name for t in pg.list_tables("public") if t.name.startswith("mf_stage_"))


def worker(
    source: ConnectionParams,
    target: ConnectionParams,
    plan_dict: dict,
    layout: dict,
    indexes: list[int],
) -> tuple[int, list[int]]:
    """Run the given units in this process; returns the process id and what it ran."""
    from masking.staged import Layout, run_unit

    p = Plan.from_dict(plan_dict, secret=SECRET)
    lay = Layout.from_dict(layout)
    with get_dialect(source) as src, get_dialect(target) as tgt:
        ran = [run_unit(p, lay, i, src, tgt).index for i in indexes]
    return os.getpid(), ran
