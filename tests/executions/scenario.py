"""Real SQLite source/target files and a workflow masking them (no Django test-DB tricks)."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Ken", "Margaret", "Linus"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Thompson", "Hamilton"]
CITIES = ["Montreal", "Toronto", "Ottawa", "Quebec", "Calgary"]

SCHEMA = """
CREATE TABLE customers (
    id INTEGER NOT NULL PRIMARY KEY,
    email VARCHAR(120) NOT NULL UNIQUE,
    first_name VARCHAR(40) NOT NULL,
    last_name VARCHAR(40),
    city VARCHAR(40));
CREATE TABLE orders (
    id INTEGER NOT NULL PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    amount NUMERIC(10, 2) NOT NULL,
    note VARCHAR(200));
"""


def customer_rows(n: int, seed: int = 7) -> list[tuple]:
    rnd = random.Random(seed)
    rows = []
    for i in range(1, n + 1):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        rows.append(
            (i, f"{first.lower()}.{last.lower()}{i}@example.org", first, last, rnd.choice(CITIES))
        )
    return rows


def make_source(path: Path, customers: int = 50, orders: int = 120) -> Path:
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    db.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?)", customer_rows(customers))
    rnd = random.Random(3)
    db.executemany(
        "INSERT INTO orders VALUES (?, ?, ?, ?)",
        [
            (i, rnd.randint(1, customers), rnd.randint(100, 99999) / 100, f"order {i}")
            for i in range(1, orders + 1)
        ],
    )
    db.commit()
    db.close()
    return path


def make_target(
    path: Path, extra_ddl: str = "", rows: list[tuple] | None = None, schema: str = SCHEMA
) -> Path:
    db = sqlite3.connect(path)
    db.executescript(schema + extra_ddl)
    for row in rows or []:
        db.execute("INSERT INTO customers VALUES (?, ?, ?, ?, ?)", row)
    db.commit()
    db.close()
    return path


def dump(path: Path, table: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(f'SELECT * FROM "{table}" ORDER BY 1').fetchall()  # noqa: S608 - test file
    finally:
        db.close()


CUSTOMER_RULES = [
    {"source_column": "email", "technique": "email", "target_column": "email"},
    {"source_column": "first_name", "technique": "first_name", "target_column": "first_name"},
    {"source_column": "last_name", "technique": "last_name", "target_column": "last_name"},
]


def make_workflow(
    tmp_path: Path,
    owner,
    *,
    customers: int = 50,
    orders: int = 120,
    name: str = "",
    batch_size: int = 1000,
    target_rows: list[tuple] | None = None,
    extra_target_ddl: str = "",
    target_schema: str = SCHEMA,
    with_target: bool = True,
    create_target: bool = False,
    **workflow_fields,
):
    """A workflow masking customers and copying orders, SQLite file → SQLite file."""
    from tests.connections.factories import ConnectionFactory
    from tests.workflows.factories import TableMappingFactory, WorkflowFactory

    tmp_path.mkdir(parents=True, exist_ok=True)
    src = make_source(tmp_path / "source.sqlite3", customers, orders)
    tgt = tmp_path / "target.sqlite3"
    if with_target:
        make_target(tgt, extra_target_ddl, target_rows, target_schema)
    else:
        sqlite3.connect(tgt).close()
    source = ConnectionFactory(database=str(src), created_by=owner)
    target = ConnectionFactory(database=str(tgt), created_by=owner)
    fields = {"name": name} if name else {}
    workflow = WorkflowFactory(
        created_by=owner,
        source_connection=source,
        target_connection=target,
        batch_size=batch_size,
        **fields,
        **workflow_fields,
    )
    TableMappingFactory(
        workflow=workflow,
        position=0,
        source_table="customers",
        target_table="customers",
        column_mappings=CUSTOMER_RULES,
        copy_unmapped=True,
        create_target=create_target,
    )
    TableMappingFactory(
        workflow=workflow,
        position=1,
        source_table="orders",
        target_table="orders",
        column_mappings=[],
        copy_unmapped=True,
        create_target=create_target,
    )
    return workflow, src, tgt
