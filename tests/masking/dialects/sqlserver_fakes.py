"""A fake SQL Server for the bulk-load tests: the native core (the auxiliary, bulk-copy
session) and the run's pyodbc connection, recording what each is sent."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import pyarrow as pa

from masking.dialects import ConnectionParams, get_dialect
from masking.dialects import sqlserver_bulk as bulk
from masking.dialects.arrowconv import arrow_schema
from masking.schema import ColumnInfo, TableInfo
from masking.schema import TypeCategory as C

TABLE = TableInfo(
    schema="sales",
    name="order lines",
    columns=(
        ColumnInfo("id", "int", C.NUMERIC, False, is_identity=True, is_primary_key=True, ordinal=1),
        ColumnInfo("amount", "money", C.NUMERIC, True, ordinal=2),
        ColumnInfo("at", "datetimeoffset", C.DATETIME, True, ordinal=3),
        ColumnInfo("doc", "xml", C.OTHER, True, ordinal=4),
        ColumnInfo("rv", "timestamp", C.BINARY, False, is_computed=True, ordinal=5),
    ),
    primary_key=("id",),
)
COLS = ["id", "amount", "at", "doc", "rv"]
LOADED = ["id", "amount", "at", "doc"]  # rv is a rowversion: never written


def rows_of(data):
    """Rows of a bulk copy's source: a table, or an iterable of batches (a stream)."""
    return data.num_rows if isinstance(data, pa.Table) else sum(b.num_rows for b in data)


class FakeCore:
    def __init__(self, log, concat_ok, fail_copy=None):
        self.log, self.concat_ok, self.fail_copy = log, concat_ok, fail_copy

    def cursor(self):
        return FakeCursor(self)

    def close(self):
        self.log.append(("aux", "close"))


class FakeCursor:
    def __init__(self, core):
        self.core, self._rows = core, []

    def execute(self, sql):
        if sql == bulk.CONCAT_PROBE:
            self._rows = [("a,b",)] if self.core.concat_ok else [("b",)]
            return
        self.core.log.append(("aux", sql))

    def fetchall(self):
        rows, self._rows = self._rows, []
        return rows

    def bulkcopy_arrow(self, name, data, **kw):
        if self.core.fail_copy:
            raise self.core.fail_copy
        self.core.log.append(("copy", name, rows_of(data), kw["column_mappings"]))

    def close(self):
        pass


class Main:
    """The run's pyodbc connection: records statements and transaction calls."""

    autocommit = True

    def __init__(self, log):
        self.log = log

    def cursor(self):
        main = self

        class Cur:
            fast_executemany = False

            def execute(self, sql, *params):
                main.log.append(("main", sql))

            def executemany(self, sql, rows):
                main.log.append(("main-many", sql, len(rows)))

            def fetchall(self):
                return []  # catalog reads (sqlserver_keys): nothing to defer

            def close(self):
                pass

        return Cur()

    def commit(self):
        self.log.append(("main", "COMMIT"))

    def rollback(self):
        self.log.append(("main", "ROLLBACK"))

    def close(self):
        pass


def dialect(monkeypatch, log, **core):
    monkeypatch.setattr(bulk, "core_connect", lambda conn_str, timeout: FakeCore(log, **core))
    d = get_dialect(ConnectionParams(dialect="sqlserver", host="h", password="pw"))
    d._conn = Main(log)
    return d


def batch(n=3):
    schema = arrow_schema([TABLE.column(c) for c in COLS])
    at = dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)
    rows = [
        {"id": i, "amount": Decimal("1.5"), "at": at, "doc": "<a/>", "rv": b"x"} for i in range(n)
    ]
    return pa.RecordBatch.from_pylist(rows, schema=schema)


class GatedCore(FakeCore):
    """Bulk copies wait for `gate` and record the thread they ran on."""

    def __init__(self, log, gate, fail_copy=None):
        super().__init__(log, concat_ok=True, fail_copy=fail_copy)
        self.gate = gate

    def cursor(self):
        core, cur = self, FakeCursor(self)

        def bulkcopy_arrow(name, data, **kw):
            assert core.gate.wait(5)
            if core.fail_copy:
                raise core.fail_copy
            core.log.append(("copy", threading.current_thread().name, rows_of(data)))

        cur.bulkcopy_arrow = bulkcopy_arrow
        return cur


def wait_for(condition, seconds=2.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)
