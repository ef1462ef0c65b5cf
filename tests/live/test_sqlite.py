"""SQLite dialect against real database files."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

import pyarrow as pa
import pytest

from masking.dialects import ConnectionParams, get_dialect
from masking.dialects.arrowconv import arrow_schema
from masking.errors import TerminalError
from masking.schema import ForeignKey, UniqueConstraint
from masking.schema import TypeCategory as C

SCHEMA = """
CREATE TABLE departments (
    id INTEGER PRIMARY KEY,
    code CHAR(4) NOT NULL UNIQUE,
    name VARCHAR(100) NOT NULL
);
CREATE TABLE employees (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dept_id INTEGER REFERENCES departments (id),
    first_name NVARCHAR(50) NOT NULL,
    salary DECIMAL(12, 2),
    bonus REAL,
    level SMALLINT NOT NULL DEFAULT 1,
    hired DATE,
    updated DATETIME,
    starts TIME,
    active BOOLEAN NOT NULL DEFAULT 1,
    ext_id UUID UNIQUE,
    photo BLOB,
    profile JSON,
    note TEXT,
    label TEXT GENERATED ALWAYS AS (first_name || '!') STORED,
    UNIQUE (first_name, hired)
);
CREATE UNIQUE INDEX employees_level_note ON employees (level, note);
CREATE TABLE orders (
    region TEXT NOT NULL,
    order_no INTEGER NOT NULL,
    employee_id INTEGER REFERENCES employees,
    PRIMARY KEY (region, order_no)
) WITHOUT ROWID;
CREATE TABLE order_lines (
    region TEXT,
    order_no INTEGER,
    line_no INTEGER,
    qty INTEGER NOT NULL,
    PRIMARY KEY (region, order_no, line_no),
    FOREIGN KEY (region, order_no) REFERENCES orders (region, order_no)
);
"""


@pytest.fixture
def lite(sqlite_db):
    d = get_dialect(sqlite_db)
    d.connect().executescript(SCHEMA)
    yield d
    d.close()


def _shape(table):
    return [
        (
            c.name,
            c.native_type,
            c.category,
            c.nullable,
            c.max_length,
            c.precision,
            c.scale,
            c.is_identity,
            c.is_primary_key,
            c.is_computed,
            c.ordinal,
        )
        for c in table.columns
    ]


def test_missing_file_is_database_not_found(tmp_path):
    path = tmp_path / "absent.db"
    result = get_dialect(ConnectionParams(dialect="sqlite", database=str(path))).test()
    assert (result.ok, result.category) == (False, "database_not_found")
    assert not path.exists()
    created = get_dialect(
        ConnectionParams(dialect="sqlite", database=str(path), options={"create": True})
    ).test()
    assert created.ok and created.server_version.startswith("SQLite ")


def test_not_a_database_is_reported(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    result = get_dialect(ConnectionParams(dialect="sqlite", database=str(path))).test()
    assert (result.ok, result.category) == (False, "database_not_found")


def test_read_only_source_rejects_writes(lite, sqlite_db):
    lite.close()
    ro = get_dialect(
        ConnectionParams(dialect="sqlite", database=sqlite_db.database, options={"read_only": True})
    )
    assert ro.describe_table("main", "departments").name == "departments"
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        ro.execute("INSERT INTO departments (code, name) VALUES ('X', 'x')")


def test_introspection_exact(lite):
    assert lite.list_schemas() == ["main"]
    assert [(t.name, t.row_estimate) for t in lite.list_tables("main")] == [
        ("departments", 0),
        ("employees", 0),
        ("order_lines", 0),
        ("orders", 0),
    ]
    e = lite.describe_table("main", "employees")
    assert _shape(e) == [
        ("id", "integer", C.NUMERIC, False, None, None, None, True, True, False, 1),
        ("dept_id", "integer", C.NUMERIC, True, None, None, None, False, False, False, 2),
        ("first_name", "nvarchar", C.STRING, False, 50, None, None, False, False, False, 3),
        ("salary", "decimal", C.NUMERIC, True, None, 12, 2, False, False, False, 4),
        ("bonus", "real", C.NUMERIC, True, None, None, None, False, False, False, 5),
        ("level", "smallint", C.NUMERIC, False, None, None, None, False, False, False, 6),
        ("hired", "date", C.DATE, True, None, None, None, False, False, False, 7),
        ("updated", "datetime", C.DATETIME, True, None, None, None, False, False, False, 8),
        ("starts", "time", C.TIME, True, None, None, None, False, False, False, 9),
        ("active", "boolean", C.BOOLEAN, False, None, None, None, False, False, False, 10),
        ("ext_id", "uuid", C.UUID, True, None, None, None, False, False, False, 11),
        ("photo", "blob", C.BINARY, True, None, None, None, False, False, False, 12),
        ("profile", "json", C.OTHER, True, None, None, None, False, False, False, 13),
        ("note", "text", C.STRING, True, None, None, None, False, False, False, 14),
        ("label", "text", C.STRING, True, None, None, None, False, False, True, 15),
    ]
    assert e.column("level").default == "1"
    assert e.primary_key == ("id",)
    assert e.foreign_keys[0].columns == ("dept_id",)
    assert (e.foreign_keys[0].ref_table, e.foreign_keys[0].ref_columns) == ("departments", ("id",))
    assert {u.columns for u in e.unique_constraints} == {
        ("ext_id",),
        ("first_name", "hired"),
        ("level", "note"),
    }
    assert UniqueConstraint("employees_level_note", ("level", "note")) in e.unique_constraints
    orders = lite.describe_table("main", "orders")
    assert orders.primary_key == ("region", "order_no")
    assert [c.is_identity for c in orders.columns] == [False, False, False]
    assert orders.foreign_keys[0].ref_columns == ("id",)  # REFERENCES employees (implicit PK)
    lines = lite.describe_table("main", "order_lines")
    assert lines.primary_key == ("region", "order_no", "line_no")
    assert [c.is_identity for c in lines.columns] == [False] * 4
    assert [(f.columns, f.ref_schema, f.ref_table, f.ref_columns) for f in lines.foreign_keys] == [
        (("region", "order_no"), "main", "orders", ("region", "order_no"))
    ]
    assert lines.foreign_keys == (
        ForeignKey(
            "fk_order_lines_0", ("region", "order_no"), "main", "orders", ("region", "order_no")
        ),
    )
    with pytest.raises(TerminalError, match="table 'main.nope' not found"):
        lite.describe_table("main", "nope")


ROWS = [
    {
        "id": 1,
        "dept_id": None,
        "first_name": "Ann",
        "salary": Decimal("1234.50"),
        "bonus": 1.5,
        "level": 3,
        "hired": dt.date(2020, 2, 29),
        "updated": dt.datetime(1999, 12, 31, 23, 59, 59, 5),
        "starts": dt.time(8, 30, 0, 5),
        "active": True,
        "ext_id": "0b7f-uuid",
        "photo": b"\x00\xff",
        "profile": '{"k": [1, 2]}',
        "note": "é\n'; --",
        "label": None,
    },
    {
        "id": 2,
        "dept_id": None,
        "first_name": "Bob",
        "salary": None,
        "bonus": None,
        "level": 1,
        "hired": None,
        "updated": None,
        "starts": None,
        "active": False,
        "ext_id": None,
        "photo": None,
        "profile": None,
        "note": None,
        "label": None,
    },
]


def test_round_trip_every_category(lite):
    t = lite.describe_table("main", "employees")
    cols = [c.name for c in t.columns]
    with lite.transaction():
        lite.begin_load(t, cols)
        assert (
            lite.write_batch(
                t, cols, pa.RecordBatch.from_pylist(ROWS, schema=arrow_schema(t.columns))
            )
            == 2
        )
        lite.end_load(t, cols)
    out = [r for b in lite.read_batches(t, cols, 1) for r in b.to_pylist()]
    expected = [dict(r) for r in ROWS]
    expected[0]["label"], expected[1]["label"] = "Ann!", "Bob!"
    assert out == expected
    assert lite.count_rows(t, "active = 1") == 1


def test_rollback_and_clear(lite):
    t = lite.describe_table("main", "departments")
    lite.execute("INSERT INTO departments (code, name) VALUES ('KEEP', 'kept')")
    batch = pa.RecordBatch.from_pylist(
        [{"code": "GONE", "name": "x"}], schema=arrow_schema([t.column("code"), t.column("name")])
    )
    with pytest.raises(RuntimeError), lite.transaction():
        lite.clear_table(t)
        lite.write_batch(t, ["code", "name"], batch)
        raise RuntimeError("abort")
    assert [r["code"] for b in lite.read_batches(t, ["code"], 10) for r in b.to_pylist()] == [
        "KEEP"
    ]
    with lite.transaction():
        lite.clear_table(t)
    assert lite.count_rows(t) == 0


def test_duplicate_is_terminal(lite):
    t = lite.describe_table("main", "departments")
    batch = pa.RecordBatch.from_pylist(
        [{"code": "SAME", "name": "a"}, {"code": "SAME", "name": "b"}],
        schema=arrow_schema([t.column("code"), t.column("name")]),
    )
    with pytest.raises(TerminalError, match="departments"), lite.transaction():
        lite.write_batch(t, ["code", "name"], batch)
    assert lite.count_rows(t) == 0


def test_keyset_composite_and_rowid_fallback(lite):
    conn = lite.connect()
    conn.executemany(
        "INSERT INTO orders VALUES (?, ?, NULL)",
        [(r, n) for r in ("EU", "US") for n in range(1, 31)],
    )
    conn.executemany(
        "INSERT INTO order_lines VALUES (?, ?, ?, ?)",
        [(r, n, ln, ln) for r in ("EU", "US") for n in range(1, 31) for ln in range(1, 8)],
    )
    t = lite.describe_table("main", "order_lines")
    batches = list(lite.read_batches(t, ["qty"], 50))
    assert [b.num_rows for b in batches] == [50] * 8 + [20]
    keys = [
        (r["region"], r["order_no"], r["line_no"])
        for b in lite.read_batches(t, ["region", "order_no", "line_no"], 64)
        for r in b.to_pylist()
    ]
    assert len(keys) == len(set(keys)) == 420 and keys == sorted(keys)
    filtered = list(lite.read_batches(t, ["line_no"], 7, "region = 'US' AND order_no = 3"))
    assert [b.column(0).to_pylist() for b in filtered] == [[1, 2, 3, 4, 5, 6, 7]]
    conn.execute("CREATE TABLE logbook (msg TEXT)")
    conn.executemany("INSERT INTO logbook VALUES (?)", [(f"m{i}",) for i in range(25)])
    log = lite.describe_table("main", "logbook")
    assert [b.num_rows for b in lite.read_batches(log, ["msg"], 10)] == [10, 10, 5]


def test_hostile_identifier(lite):
    name = 'a"b; --'
    lite.execute(
        f"CREATE TABLE {lite.quote(name)} ({lite.quote('i d')} INTEGER PRIMARY KEY, "
        f"{lite.quote('v')} TEXT)"
    )
    t = lite.describe_table("main", name)
    rows = [{"i d": i, "v": "x"} for i in range(3)]
    with lite.transaction():
        lite.write_batch(
            t, ["i d", "v"], pa.RecordBatch.from_pylist(rows, schema=arrow_schema(t.columns))
        )
    assert [r for b in lite.read_batches(t, ["i d", "v"], 2) for r in b.to_pylist()] == rows
