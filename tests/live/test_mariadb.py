"""MySQL/MariaDB dialect against a real MariaDB server (a fresh database per test)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from masking.dialects import get_dialect
from masking.dialects.arrowconv import arrow_schema
from masking.errors import TerminalError
from masking.schema import ForeignKey, UniqueConstraint
from masking.schema import TypeCategory as C

pytestmark = pytest.mark.live

SCHEMA = """
CREATE TABLE departments (
    id INT AUTO_INCREMENT PRIMARY KEY,
    code CHAR(4) NOT NULL UNIQUE,
    name VARCHAR(100) NOT NULL
) ENGINE=InnoDB;
CREATE TABLE employees (
    id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    dept_id INT NULL,
    first_name VARCHAR(50) NOT NULL,
    salary DECIMAL(12, 2),
    bonus DOUBLE,
    level SMALLINT NOT NULL DEFAULT 1,
    hired DATE,
    created TIMESTAMP(6) NULL,
    updated DATETIME(6),
    starts TIME(6),
    active TINYINT(1) NOT NULL DEFAULT 1,
    flag BIT(1),
    bits BIT(8),
    ext_id UUID,
    photo BLOB,
    raw VARBINARY(16),
    profile JSON,
    size ENUM('s', 'm', 'xl'),
    perms SET('r', 'w'),
    yr YEAR,
    note TEXT,
    body LONGTEXT,
    label VARCHAR(60) GENERATED ALWAYS AS (CONCAT(first_name, '!')) STORED,
    UNIQUE KEY emp_ext (ext_id),
    UNIQUE KEY emp_name_hired (first_name, hired),
    CONSTRAINT emp_dept FOREIGN KEY (dept_id) REFERENCES departments (id)
) ENGINE=InnoDB;
CREATE TABLE orders (
    region CHAR(2),
    order_no INT,
    employee_id BIGINT UNSIGNED,
    PRIMARY KEY (region, order_no),
    CONSTRAINT ord_emp FOREIGN KEY (employee_id) REFERENCES employees (id)
) ENGINE=InnoDB;
CREATE TABLE order_lines (
    region CHAR(2),
    order_no INT,
    line_no INT,
    qty INT NOT NULL,
    PRIMARY KEY (region, order_no, line_no),
    CONSTRAINT lines_order_fk FOREIGN KEY (region, order_no) REFERENCES orders (region, order_no)
) ENGINE=InnoDB
"""


@pytest.fixture
def my(mariadb_db):
    d = get_dialect(mariadb_db)
    for stmt in SCHEMA.split(";"):
        if stmt.strip():
            d.execute(stmt)
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


def test_introspection_exact(my, mariadb_db):
    assert my.list_schemas() == [mariadb_db.database]
    assert [t.name for t in my.list_tables(mariadb_db.database)] == [
        "departments",
        "employees",
        "order_lines",
        "orders",
    ]
    e = my.describe_table(mariadb_db.database, "employees")
    assert _shape(e) == [
        ("id", "bigint unsigned", C.NUMERIC, False, None, None, None, True, True, False, 1),
        ("dept_id", "int", C.NUMERIC, True, None, None, None, False, False, False, 2),
        ("first_name", "varchar", C.STRING, False, 50, None, None, False, False, False, 3),
        ("salary", "decimal", C.NUMERIC, True, None, 12, 2, False, False, False, 4),
        ("bonus", "double", C.NUMERIC, True, None, None, None, False, False, False, 5),
        ("level", "smallint", C.NUMERIC, False, None, None, None, False, False, False, 6),
        ("hired", "date", C.DATE, True, None, None, None, False, False, False, 7),
        ("created", "timestamp", C.DATETIME, True, None, None, None, False, False, False, 8),
        ("updated", "datetime", C.DATETIME, True, None, None, None, False, False, False, 9),
        ("starts", "time", C.TIME, True, None, None, None, False, False, False, 10),
        ("active", "tinyint(1)", C.BOOLEAN, False, None, None, None, False, False, False, 11),
        ("flag", "bit(1)", C.BOOLEAN, True, None, None, None, False, False, False, 12),
        ("bits", "bit", C.BINARY, True, 8, None, None, False, False, False, 13),
        ("ext_id", "uuid", C.UUID, True, None, None, None, False, False, False, 14),
        ("photo", "blob", C.BINARY, True, 65535, None, None, False, False, False, 15),
        ("raw", "varbinary", C.BINARY, True, 16, None, None, False, False, False, 16),
        ("profile", "json", C.OTHER, True, None, None, None, False, False, False, 17),
        ("size", "enum", C.STRING, True, 2, None, None, False, False, False, 18),
        ("perms", "set", C.STRING, True, 3, None, None, False, False, False, 19),
        ("yr", "year", C.NUMERIC, True, None, None, None, False, False, False, 20),
        ("note", "text", C.STRING, True, 65535, None, None, False, False, False, 21),
        ("body", "longtext", C.STRING, True, None, None, None, False, False, False, 22),
        ("label", "varchar", C.STRING, True, 60, None, None, False, False, True, 23),
    ]
    assert e.column("level").default == "1"
    assert e.column("note").default is None
    assert e.primary_key == ("id",)
    assert e.foreign_keys == (
        ForeignKey("emp_dept", ("dept_id",), mariadb_db.database, "departments", ("id",)),
    )
    assert e.unique_constraints == (
        UniqueConstraint("emp_ext", ("ext_id",)),
        UniqueConstraint("emp_name_hired", ("first_name", "hired")),
    )
    lines = my.describe_table(mariadb_db.database, "order_lines")
    assert lines.primary_key == ("region", "order_no", "line_no")
    assert lines.foreign_keys == (
        ForeignKey(
            "lines_order_fk",
            ("region", "order_no"),
            mariadb_db.database,
            "orders",
            ("region", "order_no"),
        ),
    )
    with pytest.raises(TerminalError, match=f"table '{mariadb_db.database}.nope' not found"):
        my.describe_table(mariadb_db.database, "nope")


ROWS = [
    {
        "id": 1,
        "dept_id": None,
        "first_name": "Ann",
        "salary": Decimal("1234.50"),
        "bonus": 1.5,
        "level": 3,
        "hired": dt.date(2020, 2, 29),
        "created": dt.datetime(2021, 3, 4, 5, 6, 7, 891011),
        "updated": dt.datetime(1999, 12, 31, 23, 59, 59, 5),
        "starts": dt.time(8, 30, 0, 5),
        "active": True,
        "flag": True,
        "bits": b"\x05",
        "ext_id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "photo": b"\x00\xff",
        "raw": b"\x01\x02",
        "profile": '{"k": [1, 2]}',
        "size": "xl",
        "perms": "r,w",
        "yr": 2024,
        "note": "é\n'; --",
        "body": "long",
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
        "created": None,
        "updated": None,
        "starts": None,
        "active": False,
        "flag": False,
        "bits": None,
        "ext_id": None,
        "photo": None,
        "raw": None,
        "profile": None,
        "size": None,
        "perms": None,
        "yr": None,
        "note": None,
        "body": None,
        "label": None,
    },
]


def test_round_trip_every_category(my, mariadb_db):
    t = my.describe_table(mariadb_db.database, "employees")
    cols = [c.name for c in t.columns]
    with my.transaction():
        my.begin_load(t, cols)
        assert (
            my.write_batch(
                t, cols, pa.RecordBatch.from_pylist(ROWS, schema=arrow_schema(t.columns))
            )
            == 2
        )
        my.end_load(t, cols)
    out = [r for b in my.read_batches(t, cols, 1) for r in b.to_pylist()]
    expected = [dict(r) for r in ROWS]
    expected[0]["label"], expected[1]["label"] = "Ann!", "Bob!"
    assert out == expected
    batch = next(my.read_batches(t, cols, 5))
    assert batch.schema.field("id").type == pa.uint64()
    assert batch.schema.field("active").type == pa.bool_()
    assert batch.schema.field("salary").type == pa.decimal128(12, 2)
    my.execute("INSERT INTO employees (first_name) VALUES ('Cy')")
    assert my._rows("SELECT id FROM employees WHERE first_name = 'Cy'") == [(3,)]


def test_rollback_clear_and_duplicates(my, mariadb_db):
    t = my.describe_table(mariadb_db.database, "departments")
    my.execute("INSERT INTO departments (code, name) VALUES ('KEEP', 'kept')")
    schema = arrow_schema([t.column("code"), t.column("name")])
    with pytest.raises(RuntimeError), my.transaction():
        my.clear_table(t)
        my.write_batch(
            t,
            ["code", "name"],
            pa.RecordBatch.from_pylist([{"code": "GONE", "name": "x"}], schema=schema),
        )
        raise RuntimeError("abort")
    assert my._rows("SELECT code FROM departments") == [("KEEP",)]
    with pytest.raises(TerminalError) as err, my.transaction():
        my.write_batch(
            t,
            ["code", "name"],
            pa.RecordBatch.from_pylist([{"code": "KEEP", "name": "secret-1"}], schema=schema),
        )
    assert "KEEP" not in str(err.value) and "departments" in str(err.value)
    with my.transaction():
        my.clear_table(t)
    assert my.count_rows(t) == 0


def test_multi_row_insert_chunks_and_keyset(my, mariadb_db, monkeypatch):
    db = mariadb_db.database
    orders = my.describe_table(db, "orders")
    lines = my.describe_table(db, "order_lines")
    monkeypatch.setattr("masking.dialects.mysql.MAX_ROWS_PER_INSERT", 37)
    with my.transaction():
        my.write_batch(
            orders,
            ["region", "order_no"],
            pa.RecordBatch.from_pylist(
                [{"region": r, "order_no": n} for r in ("EU", "US") for n in range(1, 31)],
                schema=arrow_schema([orders.column("region"), orders.column("order_no")]),
            ),
        )
        assert (
            my.write_batch(
                lines,
                ["region", "order_no", "line_no", "qty"],
                pa.RecordBatch.from_pylist(
                    [
                        {"region": r, "order_no": n, "line_no": ln, "qty": ln}
                        for r in ("US", "EU")
                        for n in range(30, 0, -1)
                        for ln in range(1, 8)
                    ],
                    schema=arrow_schema(lines.columns),
                ),
            )
            == 420
        )
    assert my.count_rows(lines) == 420
    batches = list(my.read_batches(lines, ["qty"], 50))
    assert [b.num_rows for b in batches] == [50] * 8 + [20]
    keys = [
        (r["region"], r["order_no"], r["line_no"])
        for b in my.read_batches(lines, ["region", "order_no", "line_no"], 64)
        for r in b.to_pylist()
    ]
    assert len(keys) == len(set(keys)) == 420 and keys == sorted(keys)
    some = [
        r
        for b in my.read_batches(lines, ["line_no"], 3, "region = 'US' AND order_no = 2")
        for r in b.column(0).to_pylist()
    ]
    assert some == [1, 2, 3, 4, 5, 6, 7]


def test_no_primary_key_streams(my):
    my.execute("CREATE TABLE logbook (msg VARCHAR(10))")
    my.execute("INSERT INTO logbook VALUES " + ", ".join(f"('m{i}')" for i in range(25)))
    t = my.describe_table(my.params.database, "logbook")
    batches = list(my.read_batches(t, ["msg"], 10))
    assert [b.num_rows for b in batches] == [10, 10, 5]
    assert sorted(v for b in batches for v in b.column(0).to_pylist()) == sorted(
        f"m{i}" for i in range(25)
    )


def test_hostile_identifier(my, mariadb_db):
    name = "a`b; --%s"
    my.execute(f"CREATE TABLE {my.quote(name)} ({my.quote('i`d')} INT PRIMARY KEY, v TEXT)")
    t = my.describe_table(mariadb_db.database, name)
    rows = [{"i`d": i, "v": "'; DROP TABLE x; --"} for i in range(5)]
    with my.transaction():
        my.write_batch(
            t, ["i`d", "v"], pa.RecordBatch.from_pylist(rows, schema=arrow_schema(t.columns))
        )
    assert [
        r for b in my.read_batches(t, ["i`d", "v"], 2, "v LIKE '%DROP%'") for r in b.to_pylist()
    ] == rows


def test_connection_test_categories(mariadb_db):
    ok = get_dialect(mariadb_db).test()
    assert ok.ok and ok.server_version.startswith("MariaDB ")
    cls, base = mariadb_db.__class__, mariadb_db.__dict__
    missing = get_dialect(cls(**{**base, "database": "no_such_db_x"})).test()
    assert missing.category == "database_not_found" and "no_such_db_x" not in missing.message
    bad = get_dialect(cls(**{**base, "username": "nobody_x", "password": "hunter2-secret"})).test()
    assert bad.category == "login_failed" and "hunter2" not in bad.message
    closed = get_dialect(cls(**{**base, "port": 1, "password": "hunter2-secret"})).test()
    assert closed.category == "unreachable" and "hunter2" not in closed.message
    # Verifying against a CA file that does not exist fails as a TLS problem whether or not
    # the server offers TLS at all.
    options = {"ssl_mode": "verify_ca", "ssl": {"ca": "/nonexistent/maskflow-ca.pem"}}
    tls = get_dialect(cls(**{**base, "options": options})).test()
    assert (tls.ok, tls.category) == (False, "tls")
