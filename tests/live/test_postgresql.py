"""PostgreSQL dialect against a real server (a fresh database per test)."""

from __future__ import annotations

import datetime as dt
import uuid
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
CREATE SCHEMA hr;
CREATE SCHEMA sales;
CREATE TYPE hr.mood AS ENUM ('happy', 'sad');
CREATE TABLE hr.departments (
    id serial PRIMARY KEY,
    code char(4) NOT NULL UNIQUE,
    name varchar(100) NOT NULL
);
CREATE TABLE hr.employees (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dept_id integer REFERENCES hr.departments (id),
    first_name varchar(50) NOT NULL,
    salary numeric(12, 2),
    ratio numeric,
    bonus double precision,
    level smallint NOT NULL DEFAULT 1,
    big bigint,
    hired date,
    created timestamptz,
    updated timestamp,
    starts time,
    active boolean NOT NULL DEFAULT true,
    ext_id uuid UNIQUE,
    photo bytea,
    tags text[],
    profile jsonb,
    addr inet,
    span interval,
    feeling hr.mood,
    note text,
    label text GENERATED ALWAYS AS (first_name || '!') STORED,
    UNIQUE (first_name, hired)
);
CREATE UNIQUE INDEX employees_big_key ON hr.employees (big);
CREATE TABLE sales.orders (
    region char(2),
    order_no integer,
    employee_id integer REFERENCES hr.employees (id),
    PRIMARY KEY (region, order_no)
);
CREATE TABLE sales.order_lines (
    region char(2),
    order_no integer,
    line_no integer,
    qty integer NOT NULL,
    PRIMARY KEY (region, order_no, line_no),
    CONSTRAINT lines_order_fk FOREIGN KEY (region, order_no)
        REFERENCES sales.orders (region, order_no)
);
"""


@pytest.fixture
def pg(pg_db):
    d = get_dialect(pg_db)
    for stmt in SCHEMA.split(";"):
        if stmt.strip():
            d.execute(stmt)
    d.execute("ANALYZE")
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


def test_list_schemas_and_tables(pg):
    assert {"hr", "sales", "public"} <= set(pg.list_schemas())
    assert not any(s.startswith("pg_") for s in pg.list_schemas())
    tables = pg.list_tables("sales")
    assert [(t.schema, t.name, t.kind) for t in tables] == [
        ("sales", "order_lines", "table"),
        ("sales", "orders", "table"),
    ]
    assert all(t.row_estimate == 0 for t in tables)


def test_describe_employees_exactly(pg):
    t = pg.describe_table("hr", "employees")
    assert _shape(t) == [
        ("id", "integer", C.NUMERIC, False, None, None, None, True, True, False, 1),
        ("dept_id", "integer", C.NUMERIC, True, None, None, None, False, False, False, 2),
        (
            "first_name",
            "character varying",
            C.STRING,
            False,
            50,
            None,
            None,
            False,
            False,
            False,
            3,
        ),
        ("salary", "numeric", C.NUMERIC, True, None, 12, 2, False, False, False, 4),
        ("ratio", "numeric", C.NUMERIC, True, None, None, None, False, False, False, 5),
        ("bonus", "double precision", C.NUMERIC, True, None, None, None, False, False, False, 6),
        ("level", "smallint", C.NUMERIC, False, None, None, None, False, False, False, 7),
        ("big", "bigint", C.NUMERIC, True, None, None, None, False, False, False, 8),
        ("hired", "date", C.DATE, True, None, None, None, False, False, False, 9),
        (
            "created",
            "timestamp with time zone",
            C.DATETIME,
            True,
            None,
            None,
            None,
            False,
            False,
            False,
            10,
        ),
        (
            "updated",
            "timestamp without time zone",
            C.DATETIME,
            True,
            None,
            None,
            None,
            False,
            False,
            False,
            11,
        ),
        (
            "starts",
            "time without time zone",
            C.TIME,
            True,
            None,
            None,
            None,
            False,
            False,
            False,
            12,
        ),
        ("active", "boolean", C.BOOLEAN, False, None, None, None, False, False, False, 13),
        ("ext_id", "uuid", C.UUID, True, None, None, None, False, False, False, 14),
        ("photo", "bytea", C.BINARY, True, None, None, None, False, False, False, 15),
        ("tags", "text[]", C.OTHER, True, None, None, None, False, False, False, 16),
        ("profile", "jsonb", C.OTHER, True, None, None, None, False, False, False, 17),
        ("addr", "inet", C.OTHER, True, None, None, None, False, False, False, 18),
        ("span", "interval", C.OTHER, True, None, None, None, False, False, False, 19),
        ("feeling", "user-defined", C.STRING, True, None, None, None, False, False, False, 20),
        ("note", "text", C.STRING, True, None, None, None, False, False, False, 21),
        ("label", "text", C.STRING, True, None, None, None, False, False, True, 22),
    ]
    assert t.column("level").default == "1"
    assert t.column("active").default == "true"
    assert t.primary_key == ("id",)
    assert t.foreign_keys == (
        ForeignKey("employees_dept_id_fkey", ("dept_id",), "hr", "departments", ("id",)),
    )
    assert set(t.unique_constraints) == {
        UniqueConstraint("employees_ext_id_key", ("ext_id",)),
        UniqueConstraint("employees_first_name_hired_key", ("first_name", "hired")),
        UniqueConstraint("employees_big_key", ("big",)),
    }
    assert t.is_unique("ext_id") and t.is_unique("big") and not t.is_unique("first_name")
    assert t.row_estimate == 0


def test_describe_serial_and_composite_keys(pg):
    dept = pg.describe_table("hr", "departments")
    assert _shape(dept) == [
        ("id", "integer", C.NUMERIC, False, None, None, None, True, True, False, 1),
        ("code", "character", C.STRING, False, 4, None, None, False, False, False, 2),
        ("name", "character varying", C.STRING, False, 100, None, None, False, False, False, 3),
    ]
    assert dept.column("id").default.startswith("nextval(")
    lines = pg.describe_table("sales", "order_lines")
    assert lines.primary_key == ("region", "order_no", "line_no")
    assert lines.foreign_keys == (
        ForeignKey(
            "lines_order_fk", ("region", "order_no"), "sales", "orders", ("region", "order_no")
        ),
    )
    orders = pg.describe_table("sales", "orders")
    assert orders.foreign_keys == (
        ForeignKey("orders_employee_id_fkey", ("employee_id",), "hr", "employees", ("id",)),
    )
    assert orders.unique_constraints == ()


def test_missing_table_is_terminal(pg):
    with pytest.raises(TerminalError, match="table 'hr.nope' not found"):
        pg.describe_table("hr", "nope")
    with pytest.raises(TerminalError, match="table 'sales.employees' not found"):
        pg.describe_table("sales", "employees")


ROWS = [
    {
        "id": 1,
        "dept_id": None,
        "first_name": "Ann",
        "salary": Decimal("1234.50"),
        "ratio": Decimal("0.1250000000"),
        "bonus": 1.5,
        "level": 3,
        "big": 9_000_000_000,
        "hired": dt.date(2020, 2, 29),
        "created": dt.datetime(2021, 3, 4, 5, 6, 7, 891011, tzinfo=dt.timezone.utc),
        "updated": dt.datetime(1999, 12, 31, 23, 59, 59),
        "starts": dt.time(8, 30, 0, 5),
        "active": True,
        "ext_id": str(uuid.UUID(int=1)),
        "photo": b"\x00\xffbin",
        "tags": '{a,"b c"}',
        "profile": '{"k": [1, 2]}',
        "addr": "10.0.0.1/32",
        "span": "1 day 02:00:00",
        "feeling": "happy",
        "note": "tab\there\nnewline \\ é",
        "label": None,
    },
    {
        "id": 2,
        "dept_id": None,
        "first_name": "Bob",
        "salary": None,
        "ratio": None,
        "bonus": None,
        "level": 1,
        "big": None,
        "hired": None,
        "created": None,
        "updated": None,
        "starts": None,
        "active": False,
        "ext_id": None,
        "photo": None,
        "tags": None,
        "profile": None,
        "addr": None,
        "span": None,
        "feeling": None,
        "note": None,
        "label": None,
    },
]


def test_round_trip_every_category(pg):
    t = pg.describe_table("hr", "employees")
    cols = [c.name for c in t.columns]
    batch = pa.RecordBatch.from_pylist(ROWS, schema=arrow_schema(t.columns))
    with pg.transaction():
        pg.begin_load(t, cols)
        assert pg.write_batch(t, cols, batch) == 2
        pg.end_load(t, cols)
    out = [r for b in pg.read_batches(t, cols, 1) for r in b.to_pylist()]
    expected = [dict(r) for r in ROWS]
    expected[0]["label"], expected[1]["label"] = "Ann!", "Bob!"
    assert out == expected
    first = next(pg.read_batches(t, cols, 10))
    assert first.schema.field("salary").type == pa.decimal128(12, 2)
    assert first.schema.field("created").type == pa.timestamp("us", tz="UTC")
    assert first.schema.field("updated").type == pa.timestamp("us")
    assert first.schema.field("hired").type == pa.date32()
    assert first.schema.field("starts").type == pa.time64("us")
    assert first.schema.field("photo").type == pa.binary()
    assert first.schema.field("ext_id").type == pa.string()
    assert first.schema.field("big").type == pa.int64()
    assert pg.count_rows(t) == 2
    assert pg.count_rows(t, "active") == 1


def test_sequence_reset_after_explicit_ids(pg):
    t = pg.describe_table("hr", "departments")
    cols = ["id", "code", "name"]
    batch = pa.RecordBatch.from_pylist(
        [{"id": i, "code": f"D{i:03d}", "name": f"Dept {i}"} for i in (5, 41, 7)],
        schema=arrow_schema([t.column(c) for c in cols]),
    )
    with pg.transaction():
        pg.begin_load(t, cols)
        pg.write_batch(t, cols, batch)
        pg.end_load(t, cols)
    pg.execute("INSERT INTO hr.departments (code, name) VALUES ('NEW1', 'n')")
    e = pg.describe_table("hr", "employees")
    ecols = ["id", "first_name", "level", "active"]
    with pg.transaction():
        pg.write_batch(
            e,
            ecols,
            pa.RecordBatch.from_pylist(
                [{"id": 100, "first_name": "Z", "level": 1, "active": True}],
                schema=arrow_schema([e.column(c) for c in ecols]),
            ),
        )
        pg.end_load(e, ecols)
    pg.execute("INSERT INTO hr.employees (first_name) VALUES ('Y')")
    ids = pg._rows(
        "SELECT id FROM hr.departments WHERE code = 'NEW1' "
        "UNION ALL SELECT id FROM hr.employees WHERE first_name = 'Y'"
    )
    assert ids == [(42,), (101,)]


def test_rollback_leaves_table_unchanged(pg):
    t = pg.describe_table("hr", "departments")
    pg.execute("INSERT INTO hr.departments (code, name) VALUES ('KEEP', 'kept')")
    cols = ["code", "name"]
    batch = pa.RecordBatch.from_pylist(
        [{"code": "GONE", "name": "x"}], schema=arrow_schema([t.column(c) for c in cols])
    )
    with pytest.raises(RuntimeError), pg.transaction():
        pg.clear_table(t)
        pg.write_batch(t, cols, batch)
        assert pg.count_rows(t) == 1
        raise RuntimeError("abort")
    assert pg._rows("SELECT code FROM hr.departments") == [("KEEP",)]


def test_duplicate_key_is_terminal_without_values(pg):
    t = pg.describe_table("hr", "departments")
    cols = ["code", "name"]
    batch = pa.RecordBatch.from_pylist(
        [{"code": "SAME", "name": "secret-value-1"}, {"code": "SAME", "name": "x"}],
        schema=arrow_schema([t.column(c) for c in cols]),
    )
    with pytest.raises(TerminalError) as err, pg.transaction():
        pg.write_batch(t, cols, batch)
    assert "hr.departments" in str(err.value)
    assert "SAME" not in str(err.value)
    assert pg.count_rows(t) == 0


def test_keyset_pagination_composite_key_returns_every_row_once(pg):
    pg.execute(
        "INSERT INTO sales.orders SELECT r, n, NULL FROM unnest(ARRAY['EU','US']) r, "
        "generate_series(1, 30) n"
    )
    pg.execute(
        "INSERT INTO sales.order_lines SELECT region, order_no, l, l * 2 "
        "FROM sales.orders, generate_series(1, 7) l"
    )
    t = pg.describe_table("sales", "order_lines")
    batches = list(pg.read_batches(t, ["qty", "line_no"], 50))
    assert [b.num_rows for b in batches] == [50] * 8 + [20]
    assert batches[0].schema.names == ["qty", "line_no"]
    assert sum(b.num_rows for b in batches) == 420
    filtered = [
        r
        for b in pg.read_batches(
            t, ["region", "order_no", "line_no"], 13, "region = 'US' AND line_no % 2 = 0"
        )
        for r in b.to_pylist()
    ]
    expected = [
        {"region": "US", "order_no": o, "line_no": ln} for o in range(1, 31) for ln in (2, 4, 6)
    ]
    assert filtered == expected
    all_keys = [
        (r["region"], r["order_no"], r["line_no"])
        for b in pg.read_batches(t, ["region", "order_no", "line_no"], 64)
        for r in b.to_pylist()
    ]
    assert len(all_keys) == len(set(all_keys)) == 420
    assert all_keys == sorted(all_keys)


def test_table_without_primary_key_streams_with_server_cursor(pg):
    pg.execute("CREATE TABLE public.logbook (msg text, at int)")
    pg.execute("INSERT INTO public.logbook SELECT 'm' || n, n FROM generate_series(1, 25) n")
    t = pg.describe_table("public", "logbook")
    assert t.primary_key == ()
    batches = list(pg.read_batches(t, ["at"], 10))
    assert [b.num_rows for b in batches] == [10, 10, 5]
    assert sorted(v for b in batches for v in b.column(0).to_pylist()) == list(range(1, 26))


def test_clear_table_truncates_or_deletes_referenced(pg):
    pg.execute("INSERT INTO hr.departments (code, name) VALUES ('A', 'a'), ('B', 'b')")
    pg.execute("INSERT INTO sales.orders VALUES ('EU', 1, NULL)")
    pg.execute("INSERT INTO sales.order_lines VALUES ('EU', 1, 1, 1)")
    with pg.transaction():
        pg.clear_table(pg.describe_table("sales", "order_lines"))
        pg.clear_table(pg.describe_table("sales", "orders"))  # referenced: DELETE
        pg.clear_table(pg.describe_table("hr", "departments"))  # referenced by employees
    for schema, name in (("sales", "order_lines"), ("sales", "orders"), ("hr", "departments")):
        assert pg.count_rows(pg.describe_table(schema, name)) == 0


def test_hostile_identifiers_are_quoted(pg):
    schema, name = 's"; drop', 'a"b; --'
    pg.execute(f"CREATE SCHEMA {pg.quote(schema)}")
    pg.execute(
        f"CREATE TABLE {pg.qualified(schema, name)} "
        f"({pg.quote('id%s')} int PRIMARY KEY, {pg.quote('v--')} text)"
    )
    t = pg.describe_table(schema, name)
    assert [c.name for c in t.columns] == ["id%s", "v--"]
    assert [x.name for x in pg.list_tables(schema)] == [name]
    cols = ["id%s", "v--"]
    rows = [{"id%s": i, "v--": f"'; DROP TABLE x; -- {i}"} for i in range(5)]
    with pg.transaction():
        pg.write_batch(t, cols, pa.RecordBatch.from_pylist(rows, schema=arrow_schema(t.columns)))
    out = [r for b in pg.read_batches(t, cols, 2, "\"v--\" LIKE '%DROP%'") for r in b.to_pylist()]
    assert out == rows
    with pg.transaction():
        pg.clear_table(t)
    assert pg.count_rows(t) == 0
    assert pg.describe_table("hr", "employees").name == "employees"


def test_connection_test_categories(pg_db):
    ok = get_dialect(pg_db).test()
    assert (ok.ok, ok.category) == (True, "ok")
    assert ok.server_version.startswith("PostgreSQL ")
    missing = get_dialect(pg_db.__class__(**{**pg_db.__dict__, "database": "no_such_db_x"}))
    result = missing.test()
    assert (result.ok, result.category) == (False, "database_not_found")
    assert "no_such_db_x" not in result.message
    role = get_dialect(
        pg_db.__class__(
            **{**pg_db.__dict__, "username": "no_such_role", "password": "hunter2-secret"}
        )
    ).test()
    assert role.category == "login_failed"
    assert "hunter2" not in role.message
    closed = get_dialect(
        pg_db.__class__(**{**pg_db.__dict__, "port": 1, "password": "hunter2-secret"})
    ).test()
    assert closed.category == "unreachable"
    assert "hunter2" not in closed.message
    # Verifying against a CA file that does not exist fails as a TLS problem whether or not
    # the server offers TLS at all.
    options = {"sslmode": "verify-full", "sslrootcert": "/nonexistent/maskflow-ca.pem"}
    tls = get_dialect(pg_db.__class__(**{**pg_db.__dict__, "options": options})).test()
    assert (tls.ok, tls.category) == (False, "tls")


def test_copy_keeps_tricky_strings_and_empty_versus_null(pg):
    pg.execute("CREATE TABLE public.strings (k int PRIMARY KEY, s text)")
    t = pg.describe_table("public", "strings")
    values = ["\\.", "", " ", '"', "a,b", "\r\n", "\\N", "NULL", "\t", "é€😀", None, ",", '""']
    rows = [{"k": i, "s": v} for i, v in enumerate(values)]
    with pg.transaction():
        pg.write_batch(
            t, ["k", "s"], pa.RecordBatch.from_pylist(rows, schema=arrow_schema(t.columns))
        )
    assert [r for b in pg.read_batches(t, ["k", "s"], 100) for r in b.to_pylist()] == rows
    assert pg._rows("SELECT count(*) FROM public.strings WHERE s IS NULL") == [(1,)]
