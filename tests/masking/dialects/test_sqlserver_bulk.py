"""SQL Server bulk copy through a staging table, against fake `mssql_python`/`mssql_py_core`
modules (no server here): the auxiliary connection, the staging DDL, the bulk-copy calls, and
the statements on the main connection, in order."""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys
import types
from decimal import Decimal

import pyarrow as pa
import pyodbc
import pytest

from masking.dialects import ConnectionParams, get_dialect
from masking.dialects import sqlserver_sql as q
from masking.dialects.common import arrow_schema
from masking.errors import TerminalError, TransientError
from masking.schema import ColumnInfo, TableInfo
from masking.schema import TypeCategory as C

PASSWORD = "Sup3r;Secret}pw"

TABLE = TableInfo(
    schema="sales",
    name="order]lines",
    columns=(
        ColumnInfo("id", "int", C.NUMERIC, False, is_identity=True, is_primary_key=True, ordinal=1),
        ColumnInfo("amount", "money", C.NUMERIC, True, ordinal=2),
        ColumnInfo("at", "datetimeoffset", C.DATETIME, True, ordinal=3),
        ColumnInfo("seen", "datetime2", C.DATETIME, True, ordinal=4),
        ColumnInfo("doc", "xml", C.OTHER, True, ordinal=5),
        ColumnInfo("rv", "timestamp", C.BINARY, False, is_computed=True, ordinal=6),
    ),
    primary_key=("id",),
)
COLS = ["id", "amount", "at", "seen", "doc", "rv"]
LOADED = ["id", "amount", "at", "seen", "doc"]  # rv is a rowversion: never written
TARGET = "[sales].[order]]lines]"
STAGE_RE = re.compile(r"##maskflow_[0-9a-f]{32}")


# --- fakes ------------------------------------------------------------------------------------


class Events:
    """One ordered log for both connections: ("main"|"aux", what, ...)."""

    def __init__(self):
        self.items: list[tuple] = []

    def of(self, who):
        return [e for e in self.items if e[0] == who]


class MainCursor:
    def __init__(self, conn):
        self.conn, self.fast_executemany = conn, False

    def execute(self, sql, *params):
        self.conn.events.items.append(("main", "execute", sql))
        if self.conn.fail_on and self.conn.fail_on in sql:
            raise self.conn.fail_with

    def executemany(self, sql, rows):
        self.conn.events.items.append(
            ("main", "executemany", sql, list(rows), self.fast_executemany)
        )

    def close(self):
        pass


class MainConnection:
    def __init__(self, events):
        self.events, self.autocommit = events, True
        self.fail_on, self.fail_with = None, None

    def cursor(self):
        return MainCursor(self)

    def commit(self):
        self.events.items.append(("main", "commit"))

    def rollback(self):
        self.events.items.append(("main", "rollback"))

    def close(self):
        pass


class AuxCursor:
    def __init__(self, conn):
        self.conn = conn

    def execute(self, sql):
        self.conn.events.items.append(("aux", "execute", sql))
        for needle, exc in self.conn.fail_execute.items():
            if needle in sql:
                raise exc

    def bulkcopy_arrow(self, table_name, source, **kwargs):
        self.conn.events.items.append(("aux", "bulkcopy_arrow", table_name, source, kwargs))
        if self.conn.arrow_error is not None:
            raise self.conn.arrow_error
        return {"rows_copied": source.num_rows, "batch_count": 1}

    def bulkcopy(self, table_name, data, **kwargs):
        rows = list(data)
        self.conn.events.items.append(("aux", "bulkcopy", table_name, rows, kwargs))
        if self.conn.tuple_error is not None:
            raise self.conn.tuple_error
        return {"rows_copied": len(rows), "batch_count": 1}

    def close(self):
        pass


class AuxConnection:
    def __init__(self, events):
        self.events, self.closed = events, False
        self.fail_execute: dict[str, Exception] = {}
        self.arrow_error: Exception | None = None
        self.tuple_error: Exception | None = None

    def cursor(self):
        return AuxCursor(self)

    def close(self):
        self.closed = True
        self.events.items.append(("aux", "close"))


@pytest.fixture
def fake_bulk(monkeypatch):
    """Install fake mssql_python / mssql_py_core; returns the state tests inspect and steer."""
    events = Events()
    state = types.SimpleNamespace(
        events=events, connects=[], conns=[], connect_error=None, setup=lambda conn: None
    )

    def connect(conn_str, **kwargs):
        state.connects.append((conn_str, kwargs))
        if state.connect_error is not None:
            raise state.connect_error
        conn = AuxConnection(events)
        state.setup(conn)
        state.conns.append(conn)
        return conn

    mssql_python = types.ModuleType("mssql_python")
    mssql_python.connect = connect
    monkeypatch.setitem(sys.modules, "mssql_python", mssql_python)
    monkeypatch.setitem(sys.modules, "mssql_py_core", types.ModuleType("mssql_py_core"))
    return state


def _dialect(events, **options):
    d = get_dialect(
        ConnectionParams(
            dialect="sqlserver",
            host="db",
            port=1433,
            database="x",
            username="sa",
            password=PASSWORD,
            options=options,
        )
    )
    d._conn = MainConnection(events)
    return d


def _batch(rows):
    return pa.RecordBatch.from_pylist(rows, schema=arrow_schema([TABLE.column(c) for c in COLS]))


ROW = {
    "id": 7,
    "amount": Decimal("1.5000"),
    "at": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
    "seen": dt.datetime(2024, 5, 6, 7, 8, 9),
    "doc": "<a/>",
    "rv": b"12345678",
}


# --- connection string ------------------------------------------------------------------------


def test_bulk_connection_string_sets_packet_size_and_tls_options():
    d = get_dialect(
        ConnectionParams(
            dialect="sqlserver",
            host="h",
            port=1433,
            database="d;b",
            username="u",
            password="p;w}d=x",
            options={"encrypt": "strict", "trust_server_certificate": True},
        )
    )
    assert d.bulk_connection_string() == (
        "Server=tcp:h,1433;Database={d;b};UID=u;PWD={p;w}}d=x};Encrypt=strict;"
        "TrustServerCertificate=yes;Packet Size=8000;"
    )
    plain = get_dialect(ConnectionParams(dialect="sqlserver", host="h"))
    assert plain.bulk_connection_string() == (
        "Server=h;Encrypt=yes;TrustServerCertificate=no;Packet Size=8000;"
    )


def test_bulk_connection_string_is_accepted_by_mssql_python():
    """mssql-python rejects DRIVER/APP and unknown keywords; the password's braces survive."""
    from mssql_python.connection_string_parser import _ConnectionStringParser
    from mssql_python.helpers import connstr_to_pycore_params

    d = get_dialect(
        ConnectionParams(
            dialect="sqlserver", host="h", port=1433, database="d", username="u", password="p;w}d=x"
        )
    )
    parsed = _ConnectionStringParser(validate_keywords=True)._parse(d.bulk_connection_string())
    assert parsed["pwd"] == "p;w}d=x"
    core = connstr_to_pycore_params(parsed)
    assert core["packet_size"] == 8000
    assert core["server"] == "tcp:h,1433" and core["encryption"] == "yes"


# --- statements ---------------------------------------------------------------------------------


def test_stage_name_is_hex_only():
    assert q.stage_name("0a1b") == "##maskflow_0a1b"
    for bad in ("", "0A", "x]; DROP TABLE t", "12 3"):
        with pytest.raises(ValueError):
            q.stage_name(bad)


def test_stage_create_copies_types_without_identity_and_stages_other_types_as_text():
    table = TableInfo(
        "dbo",
        "t",
        columns=(
            ColumnInfo("id", "bigint", C.NUMERIC, False, is_identity=True, ordinal=1),
            ColumnInfo("name", "nvarchar", C.STRING, True, 40, ordinal=2),
            ColumnInfo("doc", "xml", C.OTHER, True, ordinal=3),
            ColumnInfo("node", "hierarchyid", C.OTHER, True, ordinal=4),
            ColumnInfo("v", "sql_variant", C.OTHER, True, ordinal=5),
            ColumnInfo("old", "text", C.STRING, True, ordinal=6),
            ColumnInfo("pic", "image", C.BINARY, True, ordinal=7),
        ),
    )
    sql = q.stage_create(table, table.columns, "##maskflow_ab")
    items = (
        "t.[id], t.[name], CAST(NULL AS nvarchar(max)) AS [doc], "
        "CAST(NULL AS nvarchar(max)) AS [node], CAST(NULL AS nvarchar(4000)) AS [v], "
        "CAST(t.[old] AS varchar(max)) AS [old], CAST(t.[pic] AS varbinary(max)) AS [pic]"
    )
    source = "[dbo].[t] AS t WITH (NOLOCK) WHERE 1 = 0"
    assert sql == (
        f"SELECT {items} INTO [##maskflow_ab] FROM {source} UNION ALL SELECT {items} FROM {source}"
    )


def test_insert_from_stage_truncate_drop_and_lock_timeout():
    assert q.insert_from_stage(TABLE, ["id", "amount"], "##maskflow_ab") == (
        f"INSERT INTO {TARGET} ([id], [amount]) SELECT [id], [amount] FROM [##maskflow_ab]"
    )
    assert "TABLOCK" not in q.insert_from_stage(TABLE, ["id"], "##maskflow_ab")
    assert q.truncate_stage("##maskflow_ab") == "TRUNCATE TABLE [##maskflow_ab]"
    assert q.drop_stage("##maskflow_ab") == (
        "IF OBJECT_ID(N'tempdb..[##maskflow_ab]') IS NOT NULL DROP TABLE [##maskflow_ab]"
    )
    assert q.lock_timeout(30_000) == "SET LOCK_TIMEOUT 30000"


# --- the load flow ----------------------------------------------------------------------------


def test_begin_load_creates_stage_on_aux_connection_outside_the_transaction(fake_bulk):
    d = _dialect(fake_bulk.events)
    with d.transaction():
        d.begin_load(TABLE, COLS)
        [(conn_str, kwargs)] = fake_bulk.connects
        assert conn_str == d.bulk_connection_string() and "Packet Size=8000" in conn_str
        assert kwargs["autocommit"] is True and kwargs["timeout"] == 10
        aux = fake_bulk.events.of("aux")
        assert aux[0] == ("aux", "execute", "SET LOCK_TIMEOUT 30000")
        stage = STAGE_RE.search(aux[1][2]).group(0)
        infos = [TABLE.column(c) for c in LOADED]
        assert aux[1] == ("aux", "execute", q.stage_create(TABLE, infos, stage))
        # The main connection only switched IDENTITY_INSERT on: no DDL in the transaction.
        assert fake_bulk.events.of("main") == [
            ("main", "execute", f"SET IDENTITY_INSERT {TARGET} ON")
        ]
        d.end_load(TABLE, COLS)


def test_write_batch_bulk_copies_into_stage_then_moves_rows_in_the_transaction(fake_bulk):
    events = fake_bulk.events
    d = _dialect(events, bulk_timeout="120")
    naive_at = dict(ROW, id=8, at=dt.datetime(2024, 1, 2, 3, 4, 5))
    with d.transaction():
        d.begin_load(TABLE, COLS)
        stage = STAGE_RE.search(events.of("aux")[1][2]).group(0)
        assert d.write_batch(TABLE, COLS, _batch([ROW])) == 1
        assert d.write_batch(TABLE, COLS, _batch([naive_at])) == 1
        d.end_load(TABLE, COLS)
    [aux_conn] = fake_bulk.conns
    assert aux_conn.closed

    bulk = [e for e in events.items if e[1] == "bulkcopy_arrow"]
    assert len(bulk) == 2
    _, _, table_name, source, kwargs = bulk[0]
    assert table_name == stage
    assert source.schema.names == LOADED  # full rows, staging column order, no rowversion
    assert kwargs == {
        "batch_size": 0,
        "timeout": 120,
        "keep_identity": True,
        "keep_nulls": True,
        "table_lock": True,
        "check_constraints": False,
        "fire_triggers": False,
        "use_internal_transaction": False,
    }
    assert source.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert source.schema.field("seen").type == pa.timestamp("us")
    assert source.to_pylist()[0]["id"] == 7 and source.to_pylist()[0]["doc"] == "<a/>"
    # A naive value for a datetimeoffset column is sent as UTC.
    second = bulk[1][3]
    assert second.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert second.column(2).to_pylist()[0] == dt.datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc
    )

    insert = q.insert_from_stage(TABLE, LOADED, stage)
    flow = [e[:3] if e[1] == "execute" else e[:2] for e in events.items[3:]]
    assert flow == [
        ("aux", "bulkcopy_arrow"),
        ("main", "execute", insert),
        ("aux", "execute", f"TRUNCATE TABLE [{stage}]"),
        ("aux", "bulkcopy_arrow"),
        ("main", "execute", insert),
        ("aux", "execute", f"TRUNCATE TABLE [{stage}]"),
        ("main", "execute", f"SET IDENTITY_INSERT {TARGET} OFF"),
        ("aux", "execute", q.drop_stage(stage)),
        ("aux", "close"),
        ("main", "commit"),
    ]
    assert not any(e[1] == "executemany" for e in events.items)


def test_no_identity_insert_when_no_identity_column_is_loaded(fake_bulk):
    d = _dialect(fake_bulk.events)
    cols = ["amount", "doc"]
    d.begin_load(TABLE, cols)
    batch = pa.RecordBatch.from_pylist(
        [{"amount": Decimal("2.0000"), "doc": None}],
        schema=arrow_schema([TABLE.column(c) for c in cols]),
    )
    d.write_batch(TABLE, cols, batch)
    d.end_load(TABLE, cols)
    main = [e[2] for e in fake_bulk.events.of("main")]
    assert len(main) == 1 and main[0].startswith(f"INSERT INTO {TARGET} ([amount], [doc]) ")


def test_arrow_type_error_falls_back_to_tuples_for_the_rest_of_the_table(fake_bulk):
    fake_bulk.setup = lambda conn: setattr(
        conn,
        "arrow_error",
        RuntimeError("type combination is not supported by the Arrow row-major writer"),
    )
    events = fake_bulk.events
    d = _dialect(events)
    d.begin_load(TABLE, COLS)
    stage = STAGE_RE.search(events.of("aux")[1][2]).group(0)
    d.write_batch(TABLE, COLS, _batch([ROW]))
    d.write_batch(TABLE, COLS, _batch([dict(ROW, id=9)]))
    d.end_load(TABLE, COLS)
    kinds = [e[1] if e[1] != "execute" else e[2] for e in events.items[3:]]
    insert = q.insert_from_stage(TABLE, LOADED, stage)
    truncate = f"TRUNCATE TABLE [{stage}]"
    assert kinds[:8] == [
        "bulkcopy_arrow",
        truncate,
        "bulkcopy",
        insert,
        truncate,
        "bulkcopy",
        insert,
        truncate,
    ]
    tuples = [e for e in events.items if e[1] == "bulkcopy"]
    _, _, table_name, rows, kwargs = tuples[0]
    assert table_name == stage and kwargs["keep_nulls"] is True
    assert rows == [
        (
            7,
            Decimal("1.5000"),
            dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
            dt.datetime(2024, 5, 6, 7, 8, 9),
            "<a/>",
        )
    ]
    assert tuples[1][3][0][0] == 9


def test_other_bulk_errors_are_raised_scrubbed(fake_bulk):
    secret_value = "4111-1111-1111-1111"
    fake_bulk.setup = lambda conn: setattr(
        conn,
        "arrow_error",
        RuntimeError(
            f"Bulk load into ##maskflow_x failed for value '{secret_value}' using "
            f"PWD={PASSWORD} and {PASSWORD}"
        ),
    )
    d = _dialect(fake_bulk.events)
    d.begin_load(TABLE, COLS)
    with pytest.raises(TerminalError) as err:
        d.write_batch(TABLE, COLS, _batch([ROW]))
    text = str(err.value)
    assert "bulk copy failed" in text and "sales.order]lines" in text
    assert secret_value not in text and "Secret" not in text and "Sup3r" not in text
    assert not any(e[1] == "bulkcopy" for e in fake_bulk.events.items)  # no tuple retry
    d.abort_load(TABLE, COLS)


def test_connection_lost_during_bulk_copy_is_transient(fake_bulk):
    fake_bulk.setup = lambda conn: setattr(
        conn, "arrow_error", ConnectionError("connection reset by peer")
    )
    d = _dialect(fake_bulk.events)
    d.begin_load(TABLE, COLS)
    with pytest.raises(TransientError):
        d.write_batch(TABLE, COLS, _batch([ROW]))


def test_constraint_violation_on_insert_select_is_value_free(fake_bulk):
    d = _dialect(fake_bulk.events)
    d._conn.fail_on = "INSERT INTO"
    d._conn.fail_with = pyodbc.IntegrityError(
        "23000",
        "Violation of PRIMARY KEY constraint 'pk'. Cannot insert duplicate key in "
        "object 'sales.order]lines'. The duplicate key value is (alice@example.com).",
    )
    d.begin_load(TABLE, COLS)
    with pytest.raises(TerminalError) as err:
        d.write_batch(TABLE, COLS, _batch([ROW]))
    assert "alice" not in str(err.value) and "sales.order]lines" in str(err.value)


def test_abort_load_drops_stage_closes_session_and_swallows_errors(fake_bulk):
    fake_bulk.setup = lambda conn: conn.fail_execute.update(
        {"DROP TABLE": RuntimeError("lock request time out period exceeded")}
    )
    events = fake_bulk.events
    d = _dialect(events)
    with pytest.raises(RuntimeError, match="boom"), d.transaction():
        d.begin_load(TABLE, COLS)
        stage = STAGE_RE.search(events.of("aux")[1][2]).group(0)
        d._conn.fail_on = "IDENTITY_INSERT"
        d._conn.fail_with = pyodbc.Error("08S01", "link failure")
        d.abort_load(TABLE, COLS)  # must not raise, though DROP and IDENTITY_INSERT fail
        raise RuntimeError("boom")
    tail = [e[:3] for e in events.items[3:]]
    assert tail == [
        ("aux", "execute", q.drop_stage(stage)),
        ("aux", "close"),
        ("main", "execute", f"SET IDENTITY_INSERT {TARGET} OFF"),
        ("main", "rollback"),
    ]
    assert fake_bulk.conns[0].closed
    assert d._stages == {}
    d.abort_load(TABLE, COLS)  # a second abort finds nothing to release


def test_close_releases_an_unfinished_stage(fake_bulk):
    d = _dialect(fake_bulk.events)
    d.begin_load(TABLE, COLS)
    d.close()
    assert fake_bulk.conns[0].closed
    assert fake_bulk.events.of("aux")[-2][2].startswith("IF OBJECT_ID(N'tempdb..[##maskflow_")


# --- fallback to fast_executemany ---------------------------------------------------------------


def _assert_fast_executemany(events):
    kinds = [e[1] for e in events.of("main")]
    assert kinds == ["execute", "executemany", "execute"]
    _, _, sql, rows, fast = events.of("main")[1]
    assert fast is True and sql.endswith("VALUES (?, ?, ?, ?, ?)")
    assert rows[0][0] == 7


def test_fallback_when_the_native_core_is_missing(fake_bulk, monkeypatch):
    monkeypatch.setitem(sys.modules, "mssql_py_core", None)  # import raises ImportError
    d = _dialect(fake_bulk.events)
    assert d.bulk_copy_available() is False
    d.begin_load(TABLE, COLS)
    d.write_batch(TABLE, COLS, _batch([ROW]))
    d.end_load(TABLE, COLS)
    assert fake_bulk.connects == []
    _assert_fast_executemany(fake_bulk.events)


@pytest.mark.parametrize("value", [False, "off", "0", "no"])
def test_fallback_when_bulk_copy_is_switched_off(fake_bulk, value):
    d = _dialect(fake_bulk.events, bulk_copy=value)
    assert d.bulk_copy_available() is False
    d.begin_load(TABLE, COLS)
    d.write_batch(TABLE, COLS, _batch([ROW]))
    d.end_load(TABLE, COLS)
    assert fake_bulk.connects == []
    _assert_fast_executemany(fake_bulk.events)


def test_bulk_copy_is_on_by_default(fake_bulk):
    assert _dialect(fake_bulk.events).bulk_copy_available() is True
    assert _dialect(fake_bulk.events, bulk_copy="yes").bulk_copy_available() is True


def test_failed_aux_connection_falls_back_without_leaking_the_password(fake_bulk, caplog):
    fake_bulk.connect_error = RuntimeError(
        f"Login failed for user 'sa' with {PASSWORD} "
        f"(Server=tcp:db,1433;UID=sa;PWD={{{PASSWORD.replace('}', '}}')}}};Packet Size=8000)"
    )
    d = _dialect(fake_bulk.events)
    with caplog.at_level(logging.DEBUG, logger="masking.dialects.sqlserver"):
        d.begin_load(TABLE, COLS)
    d.write_batch(TABLE, COLS, _batch([ROW]))
    d.end_load(TABLE, COLS)
    assert len(fake_bulk.connects) == 1
    _assert_fast_executemany(fake_bulk.events)
    assert "bulk copy unavailable" in caplog.text
    assert "Sup3r" not in caplog.text and "Secret" not in caplog.text


def test_failed_staging_ddl_closes_the_session_and_falls_back(fake_bulk):
    fake_bulk.setup = lambda conn: conn.fail_execute.update(
        {"INTO [##maskflow_": RuntimeError("Lock request time out period exceeded.")}
    )
    d = _dialect(fake_bulk.events)
    d.begin_load(TABLE, COLS)
    assert fake_bulk.conns[0].closed and d._stages == {}
    d.write_batch(TABLE, COLS, _batch([ROW]))
    d.end_load(TABLE, COLS)
    _assert_fast_executemany(fake_bulk.events)


def test_tz_aware_timestamps_into_naive_columns_are_sent_as_utc(fake_bulk):
    """A timestamptz source column loaded into datetime2: bulk copy refuses to drop a zone,
    so the batch carries the UTC wall time, naive."""
    schema = arrow_schema([TABLE.column(c) for c in COLS])
    schema = schema.set(3, pa.field("seen", pa.timestamp("us", tz="UTC")))
    cest = dt.timezone(dt.timedelta(hours=2))
    batch = pa.RecordBatch.from_pylist(
        [dict(ROW, seen=dt.datetime(2024, 5, 6, 9, 8, 9, tzinfo=cest))], schema=schema
    )
    d = _dialect(fake_bulk.events)
    d.begin_load(TABLE, COLS)
    d.write_batch(TABLE, COLS, batch)
    [source] = [e[3] for e in fake_bulk.events.items if e[1] == "bulkcopy_arrow"]
    assert source.schema.field("seen").type == pa.timestamp("us")
    assert source.column(3).to_pylist() == [dt.datetime(2024, 5, 6, 7, 8, 9)]
