"""SQL Server cannot run on these machines: its statements are checked as text, its dialect
flow against a recording connection, and its driver path by a real connection failure."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pyarrow as pa
import pytest

from masking.dialects import ConnectionParams, get_dialect, odbc, sqlserver_clear
from masking.dialects import sqlserver_sql as q
from masking.dialects.arrowconv import arrow_schema
from masking.schema import ColumnInfo, TableInfo, UniqueConstraint
from masking.schema import TypeCategory as C

ORDERS = TableInfo(
    schema="sales",
    name="order]lines",
    columns=(
        ColumnInfo("region", "nchar", C.STRING, False, 2, is_primary_key=True, ordinal=1),
        ColumnInfo("order_no", "int", C.NUMERIC, False, is_primary_key=True, ordinal=2),
        ColumnInfo("line_no", "int", C.NUMERIC, False, is_primary_key=True, ordinal=3),
        ColumnInfo("id", "int", C.NUMERIC, False, is_identity=True, ordinal=4),
        ColumnInfo("amount", "money", C.NUMERIC, True, ordinal=5),
        ColumnInfo("doc", "xml", C.OTHER, True, ordinal=6),
        ColumnInfo("node", "hierarchyid", C.OTHER, True, ordinal=7),
        ColumnInfo("at", "datetimeoffset", C.DATETIME, True, ordinal=8),
        ColumnInfo("rv", "timestamp", C.BINARY, False, is_computed=True, ordinal=9),
    ),
    primary_key=("region", "order_no", "line_no"),
)


def test_quoting_doubles_closing_bracket():
    assert q.quote("a]b; --") == "[a]]b; --]"
    assert q.qualified("", "t") == "[dbo].[t]"


def test_catalog_queries_take_names_as_parameters():
    for sql in (q.TABLES, q.TABLE):
        assert "?" in sql
    assert q.TABLE.count("?") == 2
    assert "sys.partitions" in q.TABLE and "index_id IN (0, 1)" in q.TABLE
    assert "INFORMATION_SCHEMA.TABLES" in q.TABLES
    for sql in (q.COLUMNS, q.KEYS, q.FOREIGN_KEYS):
        assert sql.count("?") == 1
    assert "fkc.constraint_column_id" in q.FOREIGN_KEYS
    assert "ic.key_ordinal" in q.KEYS and "has_filter = 0" in q.KEYS


def test_first_keyset_page_uses_top_and_orders_by_key():
    wanted = [
        ORDERS.column("amount"),
        ORDERS.column("doc"),
        ORDERS.column("node"),
        ORDERS.column("at"),
    ]
    sql = q.keyset_select(ORDERS, wanted, ["region", "order_no", "line_no"], None, False)
    assert sql == (
        "SELECT TOP (?) [amount], CONVERT(nvarchar(max), [doc]) AS [doc], "
        "[node].ToString() AS [node], CONVERT(datetime2(7), SWITCHOFFSET([at], '+00:00')) AS "
        "[at], [region], [order_no], [line_no], DATEPART(TZOFFSET, [at]) "
        "FROM [sales].[order]]lines] ORDER BY [region], [order_no], [line_no]"
    )


def test_next_keyset_page_uses_expanded_or_form():
    sql = q.keyset_select(
        ORDERS, [ORDERS.column("amount")], ["region", "order_no", "line_no"], "[amount] > 0", True
    )
    assert sql == (
        "SELECT TOP (?) [amount], [region], [order_no], [line_no] FROM [sales].[order]]lines] "
        "WHERE ([amount] > 0) AND (([region] > ?) OR ([region] = ? AND [order_no] > ?) OR "
        "([region] = ? AND [order_no] = ? AND [line_no] > ?)) "
        "ORDER BY [region], [order_no], [line_no]"
    )


def test_insert_identity_insert_delete_statements():
    assert q.insert(ORDERS, ["id", "amount"]) == (
        "INSERT INTO [sales].[order]]lines] ([id], [amount]) VALUES (?, ?)"
    )
    assert q.identity_insert(ORDERS, True) == "SET IDENTITY_INSERT [sales].[order]]lines] ON"
    assert q.identity_insert(ORDERS, False) == "SET IDENTITY_INSERT [sales].[order]]lines] OFF"
    assert q.delete(ORDERS) == "DELETE FROM [sales].[order]]lines]"
    assert q.count(ORDERS, "1 = 1") == (
        "SELECT COUNT_BIG(*) FROM [sales].[order]]lines] WHERE (1 = 1)"
    )


def test_staging_table_drops_identity_and_publish_keeps_identity_values():
    stage = TableInfo(schema="sales", name="mf_stage_e1_0", columns=ORDERS.columns)
    sql = q.create_stage("[sales].[mf_stage_e1_0]", "[sales].[order]]lines]", "[id], [amount]")
    # SELECT ... INTO alone would copy the IDENTITY property; the UNION drops it
    assert sql == (
        "SELECT [id], [amount] INTO [sales].[mf_stage_e1_0] FROM [sales].[order]]lines]"
        " WHERE 1 = 0 UNION ALL SELECT [id], [amount] FROM [sales].[order]]lines] WHERE 1 = 0"
    )
    insert = (
        "INSERT INTO [sales].[order]]lines] ([id], [amount])"
        " SELECT [id], [amount] FROM [sales].[mf_stage_e1_0]"
    )
    assert q.publish(stage, ORDERS, ["id", "amount"], identity=False) == [insert]
    assert q.publish(stage, ORDERS, ["id", "amount"], identity=True) == [
        "SET IDENTITY_INSERT [sales].[order]]lines] ON",
        insert,
        "SET IDENTITY_INSERT [sales].[order]]lines] OFF",
    ]


def test_column_rows_convert_sizes_and_flags():
    row = ("name", "nvarchar", 1, 100, 0, 0, None, 0, 0, 2)
    col = q.column_from_row(row, (), C.STRING)
    assert (col.max_length, col.nullable, col.ordinal) == (50, True, 2)
    unbounded = q.column_from_row(("n", "varchar", 0, -1, 0, 0, "('x')", 0, 0, 1), (), C.STRING)
    assert (unbounded.max_length, unbounded.default, unbounded.nullable) == (None, "('x')", False)
    dec = q.column_from_row(("d", "decimal", 1, 9, 12, 3, None, 0, 0, 3), ("d",), C.NUMERIC)
    assert (dec.precision, dec.scale, dec.is_primary_key, dec.max_length) == (12, 3, True, None)
    rv = q.column_from_row(("rv", "timestamp", 0, 8, 0, 0, None, 0, 0, 4), (), C.BINARY)
    assert rv.is_computed and rv.max_length is None
    ident = q.column_from_row(("id", "int", 0, 4, 10, 0, None, 1, 0, 1), ("id",), C.NUMERIC)
    assert ident.is_identity and ident.precision is None


class RecordingCursor:
    def __init__(self, log, pages):
        self.log, self.pages, self.fast_executemany = log, pages, False

    def execute(self, sql, *params):
        self.log.append(("execute", sql, params))

    def executemany(self, sql, rows):
        self.log.append(("executemany", sql, list(rows), self.fast_executemany))

    def fetchall(self):
        return self.pages.pop(0) if self.pages else []

    def close(self):
        pass


class RecordingConnection:
    def __init__(self, pages=()):
        self.log, self.pages, self.autocommit = [], list(pages), True

    def cursor(self):
        return RecordingCursor(self.log, self.pages)

    def commit(self):
        self.log.append(("commit",))

    def rollback(self):
        self.log.append(("rollback",))

    def close(self):
        pass


def _dialect(conn):
    # The fast_executemany path; the bulk-copy path is covered in test_sqlserver_bulk.py.
    d = get_dialect(
        ConnectionParams(dialect="sqlserver", host="db", database="x", options={"bulk_copy": False})
    )
    d._conn = conn
    return d


def test_load_flow_sets_identity_insert_and_skips_rowversion():
    conn = RecordingConnection()
    d = _dialect(conn)
    cols = ["region", "order_no", "line_no", "id", "amount", "at", "rv"]
    schema = arrow_schema([ORDERS.column(c) for c in cols])
    batch = pa.RecordBatch.from_pylist(
        [
            {
                "region": "EU",
                "order_no": 1,
                "line_no": 1,
                "id": 7,
                "amount": Decimal("1.5000"),
                "at": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
                "rv": b"12345678",
            }
        ],
        schema=schema,
    )
    with d.transaction():
        d.begin_load(ORDERS, cols)
        assert d.write_batch(ORDERS, cols, batch) == 1
        d.end_load(ORDERS, cols)
    reads = [e for e in conn.log if e[0] == "execute" and e[1].lstrip().startswith("SELECT")]
    assert reads and "TOP (1) 1 FROM [sales].[order]]lines]" in reads[0][1]  # keys to defer?
    conn.log = [e for e in conn.log if e not in reads]
    assert conn.log[0] == ("execute", "SET IDENTITY_INSERT [sales].[order]]lines] ON", ())
    kind, sql, rows, fast = conn.log[1]
    assert (kind, fast) == ("executemany", True)
    assert sql == (
        "INSERT INTO [sales].[order]]lines] ([region], [order_no], [line_no], [id], "
        "[amount], [at]) VALUES (?, ?, ?, ?, ?, ?)"
    )
    assert rows == [("EU", 1, 1, 7, Decimal("1.5000"), dt.datetime(2024, 1, 2, 3, 4, 5))]
    assert conn.log[2] == ("execute", "SET IDENTITY_INSERT [sales].[order]]lines] OFF", ())
    assert conn.log[3] == ("commit",)
    assert conn.autocommit is True


def test_transaction_rolls_back_on_error():
    conn = RecordingConnection()
    d = _dialect(conn)
    with pytest.raises(RuntimeError), d.transaction():
        d.clear_table(ORDERS)  # the catalog answers nothing: not one to TRUNCATE
        raise RuntimeError("boom")
    catalog = [e for e in conn.log if e[0] == "execute" and e[1].lstrip().startswith("SELECT")]
    assert catalog  # asked whether TRUNCATE would do
    rest = [e for e in conn.log if e not in catalog]
    assert rest == [("execute", "DELETE FROM [sales].[order]]lines]", ()), ("rollback",)]


def _statements(conn) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        e[1] if e[0] == "execute" else e[0]
        for e in conn.log
        if e[0] != "execute" or not e[1].lstrip().startswith("SELECT")
    ]


def test_truncate_waits_for_the_load_and_keeps_delete_where_the_server_numbers_rows(
    monkeypatch,
):
    monkeypatch.setattr(sqlserver_clear, "truncatable", lambda rows, table: True)
    conn = RecordingConnection()
    d = _dialect(conn)
    loaded = ["region", "order_no", "line_no", "id", "amount"]
    with d.transaction():
        d.clear_table(ORDERS)
        # empty for the run until its load truncates it: no statement reaches the server
        assert d.count_rows(ORDERS) == 0 and list(d.read_batches(ORDERS, ["amount"], 10)) == []
        assert conn.log == []
        d.begin_load(ORDERS, loaded)  # id is an IDENTITY column, written as it was
        d.end_load(ORDERS, loaded)
    assert "TRUNCATE TABLE [sales].[order]]lines]" in _statements(conn)
    conn.log.clear()
    unnumbered = [c for c in loaded if c != "id"]  # the server numbers the rows
    with d.transaction():
        d.clear_table(ORDERS)
        d.begin_load(ORDERS, unnumbered)
        d.end_load(ORDERS, unnumbered)
    assert _statements(conn)[0] == "DELETE FROM [sales].[order]]lines]"
    assert not any("TRUNCATE" in s for s in _statements(conn))


def test_a_table_cleared_and_never_loaded_is_emptied_before_the_commit(monkeypatch):
    monkeypatch.setattr(sqlserver_clear, "truncatable", lambda rows, table: True)
    conn = RecordingConnection()
    d = _dialect(conn)
    with d.transaction():
        d.clear_table(ORDERS)
    assert _statements(conn) == ["DELETE FROM [sales].[order]]lines]", "commit"]
    conn.log.clear()
    with pytest.raises(RuntimeError), d.transaction():
        d.clear_table(ORDERS)
        raise RuntimeError("boom")
    assert _statements(conn) == ["rollback"]
    with d.transaction():  # a rolled back run leaves nothing for the next one to empty
        pass
    assert _statements(conn) == ["rollback", "commit"]


def test_a_catalog_that_cannot_tell_means_delete(monkeypatch):
    def broken(rows, table):  # type: ignore[no-untyped-def]
        raise RuntimeError("Invalid object name 'sys.change_tracking_tables'")

    monkeypatch.setattr(sqlserver_clear, "truncatable", broken)
    conn = RecordingConnection()
    d = _dialect(conn)
    with d.transaction():
        d.clear_table(ORDERS)
        assert _statements(conn) == ["DELETE FROM [sales].[order]]lines]"]


def test_truncatable_asks_for_every_condition_and_optional_columns_where_present():
    seen: list[tuple[str, tuple]] = []

    def rows(sql, params):  # type: ignore[no-untyped-def]
        seen.append((sql, tuple(params)))
        if sql == sqlserver_clear.CATALOG_OPTIONS:
            return [("is_external",), ("ledger_type",)]
        return [(1,)]

    assert sqlserver_clear.truncatable(rows, ORDERS)
    sql, params = seen[-1]
    assert params == ("[sales].[order]]lines]", "[sales].[order]]lines]")
    tests = (
        "sys.foreign_keys", "sys.trigger_events", "is_schema_bound_reference = 1",
        "sys.change_tracking_tables", "is_tracked_by_cdc = 0", "temporal_type = 0",
        "is_replicated = 0", "'ALTER'", "t.is_external = 0", "t.ledger_type = 0",
    )  # fmt: skip
    for test in tests:
        assert test in sql, test
    assert "is_node" not in sql and "is_edge" not in sql  # this catalog has no graph tables
    assert not sqlserver_clear.truncatable(lambda sql, params: [], ORDERS)
    assert not sqlserver_clear.truncatable(
        lambda sql, params: [] if sql == sqlserver_clear.CATALOG_OPTIONS else [(0,)], ORDERS
    )


def test_read_batches_pages_with_last_key():
    pages = [[(Decimal("1"), "EU", 1, 1), (Decimal("2"), "EU", 1, 2)], [(Decimal("3"), "US", 1, 1)]]
    conn = RecordingConnection(pages)
    d = _dialect(conn)
    batches = list(d.read_batches(ORDERS, ["amount"], 2))
    assert [b.num_rows for b in batches] == [2, 1]
    assert batches[0].schema.field("amount").type == pa.decimal128(19, 4)
    first, second = conn.log
    assert first[2] == (2,)
    assert second[2] == (2, "EU", "EU", 1, "EU", 1, 2)
    assert "TOP (?)" in second[1] and "[line_no] > ?" in second[1]


def test_connection_string_braces_special_values():
    d = get_dialect(
        ConnectionParams(
            dialect="sqlserver",
            host="h",
            port=1433,
            database="d;b",
            username="u",
            password="p;w}d=x",
            options={"driver": "ODBC Driver 18 for SQL Server", "trust_server_certificate": True},
        )
    )
    assert d.connection_string() == (
        "DRIVER={ODBC Driver 18 for SQL Server};SERVER=tcp:h,1433;DATABASE={d;b};UID=u;"
        "PWD={p;w}}d=x};Encrypt=yes;TrustServerCertificate=yes;Connection Timeout=10;"
        "APP=maskflow;"
    )
    strict = get_dialect(
        ConnectionParams(dialect="sqlserver", host="h", options={"encrypt": "strict"})
    )
    assert "Encrypt=strict;TrustServerCertificate=no;" in strict.connection_string("X")
    off = get_dialect(ConnectionParams(dialect="sqlserver", host="h", options={"encrypt": False}))
    assert "Encrypt=no;" in off.connection_string("X")


def test_create_table_sql_for_sqlserver():
    d = get_dialect(ConnectionParams(dialect="sqlserver"))
    table = TableInfo(
        "public",
        "people",
        columns=(
            ColumnInfo(
                "id", "integer", C.NUMERIC, False, is_identity=True, is_primary_key=True, ordinal=1
            ),
            ColumnInfo("email", "character varying", C.STRING, False, 200, ordinal=2),
            ColumnInfo("born", "timestamp with time zone", C.DATETIME, True, ordinal=3),
            ColumnInfo("ok", "boolean", C.BOOLEAN, True, ordinal=4),
            ColumnInfo("ref", "uuid", C.UUID, True, ordinal=5),
            ColumnInfo("doc", "jsonb", C.OTHER, True, ordinal=6),
        ),
        primary_key=("id",),
        unique_constraints=(),
    )
    assert d.create_table_sql(table, "dbo", "people", source_dialect="postgresql") == (
        "CREATE TABLE [dbo].[people] (\n  [id] INTEGER IDENTITY(1, 1) NOT NULL,\n"
        "  [email] NVARCHAR(200) NOT NULL,\n  [born] DATETIMEOFFSET,\n  [ok] BIT,\n"
        "  [ref] UNIQUEIDENTIFIER,\n  [doc] NVARCHAR(MAX),\n  PRIMARY KEY ([id])\n)"
    )


def test_bundled_driver_loads_and_reports_unreachable_without_password():
    bundled = odbc.bundled_driver_path()
    assert bundled is not None and odbc.find_driver() is not None
    d = get_dialect(
        ConnectionParams(
            dialect="sqlserver",
            host="127.0.0.1",
            port=1,
            database="master",
            username="sa",
            password="Sup3r;Secret}pw",
            timeout=3,
            options={"driver": bundled},
        )
    )
    start = time.monotonic()
    result = d.test()
    elapsed = time.monotonic() - start
    assert result.ok is False
    assert result.category == "unreachable", result.message
    assert "Sup3r" not in result.message and "Secret" not in result.message
    assert "PWD" not in result.message
    assert elapsed < 3 + 5
    assert bundled not in result.message  # the driver loaded: not "driver_missing"


def test_missing_driver_is_reported_as_driver_missing(tmp_path):
    d = get_dialect(
        ConnectionParams(
            dialect="sqlserver",
            host="127.0.0.1",
            port=1,
            password="Sup3r-secret",
            options={"driver": str(tmp_path / "libnothing.so")},
        )
    )
    result = d.test()
    assert (result.ok, result.category) == (False, "driver_missing")
    assert "Sup3r" not in result.message


def test_create_table_sql_same_dialect_keeps_native_types():
    d = get_dialect(ConnectionParams(dialect="sqlserver"))
    table = TableInfo(
        "dbo",
        "docs",
        columns=(
            ColumnInfo(
                "id", "bigint", C.NUMERIC, False, is_identity=True, is_primary_key=True, ordinal=1
            ),
            ColumnInfo("title", "nvarchar", C.STRING, False, 80, ordinal=2),
            ColumnInfo("body", "nvarchar", C.STRING, True, None, ordinal=3),
            ColumnInfo("blob", "varbinary", C.BINARY, True, None, ordinal=4),
            ColumnInfo("price", "decimal", C.NUMERIC, True, precision=9, scale=2, ordinal=5),
            ColumnInfo("at", "datetimeoffset", C.DATETIME, True, ordinal=6),
            ColumnInfo("rv", "timestamp", C.BINARY, False, is_computed=True, ordinal=7),
        ),
        primary_key=("id",),
        unique_constraints=(UniqueConstraint("uq_title", ("title",)),),
    )
    assert d.create_table_sql(table, "arch", "docs", source_dialect="sqlserver") == (
        "CREATE TABLE [arch].[docs] (\n  [id] bigint IDENTITY(1, 1) NOT NULL,\n"
        "  [title] nvarchar(80) NOT NULL,\n  [body] nvarchar(max),\n  [blob] varbinary(max),\n"
        "  [price] decimal(9, 2),\n  [at] datetimeoffset,\n  [rv] timestamp,\n"
        "  PRIMARY KEY ([id]),\n  UNIQUE ([title])\n)"
    )


def test_units_read_without_snapshot_when_the_database_setting_cannot_be_read():
    from masking.dialects.sqlserver_snapshot import SnapshotReads

    class Refused(SnapshotReads):
        _conn = None
        executed: list[str] = []

        def _rows(self, sql):  # type: ignore[no-untyped-def]
            raise RuntimeError("permission denied on sys.databases")

        def execute(self, sql):  # type: ignore[no-untyped-def]
            self.executed.append(sql)

    reader = Refused()
    assert reader.read_consistency == ""
    with reader.snapshot_reads(None):
        pass
    assert reader.executed == []  # no SNAPSHOT isolation asked for
