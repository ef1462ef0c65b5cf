"""SQL Server through pyodbc and Microsoft's ODBC driver (installed, or bundled; see odbc.py).

Options: `driver` (name or path; default odbc.find_driver()), `encrypt` (default yes; also
"strict"), `trust_server_certificate` (default no), `bulk_copy` (default on), `bulk_timeout`
(seconds per bulk-copy call, default 300).

Loading. Rows go in through the TDS bulk-load protocol (mssql-python's `bulkcopy_arrow`,
`bulkcopy` for tuples when the Arrow path refuses a type) when `mssql_py_core` is importable
and `bulk_copy` is on; otherwise through pyodbc's `fast_executemany`. Each bulk-copy call opens
its own connection and commits on its own, so it cannot write into the run's transaction
directly. Instead, per table:

- begin_load opens an auxiliary autocommit mssql-python connection (`Packet Size=8000`, same
  server, credentials and TLS options) and creates a global temporary staging table
  `##maskflow_<random hex>` with exactly the insertable target columns, in order (no
  identity property; computed and rowversion columns are never staged). It is created outside
  the run's transaction, so the main connection never holds a lock on it, and it lives as long
  as the auxiliary session does.
- write_batch bulk-copies the batch (full rows, staging column order, NULLs kept) into the
  staging table, then on the main pyodbc connection, inside the run's transaction, runs
  `INSERT INTO target (cols) SELECT cols FROM ##stage` (IDENTITY_INSERT is on from
  begin_load when identity columns are loaded), then empties the staging table. Moving rows
  per batch rather than once at end_load keeps tempdb use to one batch, and constraint
  errors surface on the batch that caused them; it costs two short statements per batch.
- end_load / abort_load drop the staging table and close the auxiliary connection (closing it
  alone also removes the table). abort_load never raises.

A rollback of the run undoes every INSERT ... SELECT, so the target ends exactly as before;
the staging rows were never part of the target. If the auxiliary connection or the staging
table cannot be set up, the table is loaded with fast_executemany instead. No message, log
line or exception carries the password or row values."""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from masking.dberrors import classify, connection_failed, database_error
from masking.dialects import common, ddl, odbc
from masking.dialects import sqlserver_options as opts
from masking.dialects import sqlserver_sql as q
from masking.dialects.base import Capabilities, ConnectionParams, Dialect, TestResult
from masking.dialects.typemaps import SQLSERVER_TYPES
from masking.errors import ConnectionFailed, MaskingError
from masking.schema import ForeignKey, TableInfo, TableSummary, TypeCategory, UniqueConstraint

log = logging.getLogger(__name__)

DEFAULT_BULK_TIMEOUT = 300  # seconds per bulk-copy call (one batch); 0 would mean no limit
STAGE_LOCK_TIMEOUT_MS = 30_000  # staging DDL/TRUNCATE/DROP wait at most this long for locks

_SQLSTATE_CATEGORY = {
    "28000": "login_failed",
    "HYT00": "unreachable",
    "08001": "unreachable",
    "IM002": "driver_missing",
    "42000": "permission_denied",
}


# Errors from the Arrow path that a retry with Python tuples may avoid (unsupported Arrow type,
# tz-aware timestamp into a naive column, a type pairing the Arrow writer lacks).
_ARROW_TYPE_ERROR = re.compile(
    r"arrow|unsupported (python |tds |destination )?type|type combination|timezone-aware|"
    r"type ?conversion",
    re.I,
)


def _is_arrow_type_error(exc: BaseException) -> bool:
    return isinstance(exc, TypeError) or bool(_ARROW_TYPE_ERROR.search(str(exc)))


@dataclass
class _Stage:
    """One table's bulk-load state: the auxiliary session and its staging table."""

    conn: Any  # mssql-python connection, autocommit; the staging table lives as long as it
    name: str  # ##maskflow_<hex>
    columns: list[str]  # insertable target columns = staging columns, in order
    arrow: bool = True  # False once the Arrow path refused this table's types


class SQLServerDialect(Dialect):
    name = "sqlserver"
    capabilities = Capabilities(
        sqlglot_dialect="tsql",
        quote_open="[",
        quote_close="]",
        supports_schemas=True,
        default_schema="dbo",
        max_params_per_statement=2100,
        truncate_is_transactional=True,
    )
    type_map = SQLSERVER_TYPES

    def __init__(self, params: ConnectionParams):
        super().__init__(params)
        self._stages: dict[tuple[str, str], _Stage] = {}

    def connection_string(self, driver: str | None = None) -> str:
        driver = driver or self.params.options.get("driver") or odbc.find_driver() or ""
        return opts.odbc_connection_string(self.params, driver)

    def bulk_connection_string(self) -> str:
        return opts.bulk_connection_string(self.params)

    # --- connection ---------------------------------------------------------------------------
    def connect(self) -> Any:
        if self._conn is not None:
            return self._conn
        try:
            import pyodbc
        except ImportError as exc:
            raise ConnectionFailed("driver_missing", "pyodbc or unixODBC is not installed") from exc
        driver = self.params.options.get("driver") or odbc.find_driver()
        if not driver:
            raise ConnectionFailed("driver_missing", "no ODBC driver for SQL Server found")
        conn_str = self.connection_string(driver)
        options = opts.Options.of(self.params)
        try:
            conn = pyodbc.connect(conn_str, autocommit=True, timeout=options.login_timeout)
        except pyodbc.Error as exc:
            raise self._connection_failed(exc, conn_str) from exc
        conn.timeout = options.query_timeout  # per statement; 0 = no limit
        self._conn = conn
        return conn

    def _connection_failed(self, exc: Exception, conn_str: str) -> ConnectionFailed:
        state = str(exc.args[0]) if exc.args else ""
        raw = " ".join(str(a) for a in exc.args)
        category = common.classify(raw)
        if category == "unknown":
            category = _SQLSTATE_CATEGORY.get(state, "unknown")
        return connection_failed(category)

    def test(self) -> TestResult:
        def probe(conn: Any) -> str:
            cur = conn.cursor()
            cur.execute("SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128))")
            version = str(cur.fetchone()[0])
            cur.close()
            return f"SQL Server {version}"

        secrets = [self.params.password, self.connection_string()]
        return TestResult(*common.timed_test(self.connect, probe, secrets))

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self.connect().cursor()
        try:
            cur.execute(sql, *params) if params else cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
        finally:
            cur.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        cur = self.connect().cursor()
        try:
            cur.execute(sql, *params) if params else cur.execute(sql)
        finally:
            cur.close()

    def qualified(self, schema: str, table: str) -> str:
        return q.qualified(schema, table)

    # --- introspection ------------------------------------------------------------------------
    def list_schemas(self) -> list[str]:
        return [r[0] for r in self._rows(q.SCHEMAS)]

    def list_tables(self, schema: str) -> list[TableSummary]:
        return [
            TableSummary(schema, name, None if est is None else int(est), kind)
            for name, est, kind in self._rows(q.TABLES, (schema,))
        ]

    def describe_table(self, schema: str, table: str) -> TableInfo:
        found = self._rows(q.TABLE, (schema, table))
        if not found:
            raise common.not_found(schema, table)
        object_id, estimate = found[0]
        keys: dict[str, list[str]] = {}
        pk_name = None
        for index, is_pk, col in self._rows(q.KEYS, (object_id,)):
            keys.setdefault(index, []).append(col)
            if is_pk:
                pk_name = index
        primary_key = tuple(keys.pop(pk_name, ())) if pk_name else ()
        uniques = tuple(UniqueConstraint(n, tuple(c)) for n, c in sorted(keys.items()))
        fks: dict[str, list[Any]] = {}
        for name, col, ref_schema, ref_table, ref_col in self._rows(q.FOREIGN_KEYS, (object_id,)):
            fks.setdefault(name, []).append((col, ref_schema, ref_table, ref_col))
        foreign_keys = tuple(
            ForeignKey(
                n, tuple(p[0] for p in parts), parts[0][1], parts[0][2], tuple(p[3] for p in parts)
            )
            for n, parts in sorted(fks.items())
        )
        columns = tuple(
            q.column_from_row(r, primary_key, self.category_of(str(r[1])))
            for r in self._rows(q.COLUMNS, (object_id,))
        )
        return TableInfo(
            schema,
            table,
            columns,
            primary_key,
            foreign_keys,
            uniques,
            None if estimate is None else int(estimate),
        )

    # --- reading ------------------------------------------------------------------------------
    def count_rows(self, table: TableInfo, where: str | None = None) -> int:
        return int(self._rows(q.count(table, where))[0][0])

    def read_batches(
        self, table: TableInfo, columns: Sequence[str], batch_size: int, where: str | None = None
    ) -> Iterator[pa.RecordBatch]:
        wanted, extra = common.select_list(table, columns)
        if not table.primary_key:
            yield from self._read_scan(table, wanted, batch_size, where)
            return
        key_idx = [
            len(wanted) + extra.index(k) if k in extra else list(columns).index(k)
            for k in table.primary_key
        ]
        first = q.keyset_select(table, wanted, extra, where, after_key=False)
        later = q.keyset_select(table, wanted, extra, where, after_key=True)
        last: list[Any] | None = None
        while True:
            if last is None:
                rows = self._rows(first, (batch_size,))
            else:
                rows = self._rows(later, (batch_size, *common.keyset_params(last, False)))
            if not rows:
                return
            last = [rows[-1][i] for i in key_idx]
            yield common.rows_to_batch(rows, wanted)
            if len(rows) < batch_size:
                return

    def _read_scan(
        self, table: TableInfo, wanted: list[Any], batch_size: int, where: str | None
    ) -> Iterator[pa.RecordBatch]:
        """No primary key: one forward-only result set drained with fetchmany (the driver
        streams it; nothing is buffered beyond a batch)."""
        cur = self.connect().cursor()
        try:
            cur.execute(q.scan_select(table, wanted, where))
            while rows := cur.fetchmany(batch_size):
                yield common.rows_to_batch([tuple(r) for r in rows], wanted)
        finally:
            cur.close()

    # --- writing ------------------------------------------------------------------------------
    def _begin(self) -> None:
        self.connect().autocommit = False

    def _commit(self) -> None:
        conn = self.connect()
        try:
            conn.commit()
        finally:
            conn.autocommit = True

    def _rollback(self) -> None:
        conn = self.connect()
        try:
            conn.rollback()
        finally:
            conn.autocommit = True

    def write_batch(self, table: TableInfo, columns: Sequence[str], batch: pa.RecordBatch) -> int:
        cols = common.insertable(table, columns)
        if not cols or batch.num_rows == 0:
            return 0
        stage = self._stages.get(_key(table))
        if stage is not None and stage.columns == cols:
            return self._write_staged(stage, table, batch)
        rows = [tuple(_encode(v) for v in r) for r in common.batch_rows(batch, cols)]
        cur = self.connect().cursor()
        # Parameters are bound column-wise in arrays and sent in bulk, not row by row.
        cur.fast_executemany = True
        try:
            with self._insert_errors(table):
                cur.executemany(q.insert(table, cols), rows)
        finally:
            cur.close()
        return len(rows)

    @contextmanager
    def _insert_errors(self, table: TableInfo) -> Iterator[None]:
        """pyodbc errors of an insert on the main connection, without values or secrets."""
        import pyodbc

        try:
            yield
        except pyodbc.Error as exc:
            raise _refused(exc, table, "write") from exc

    def clear_table(self, table: TableInfo) -> None:
        self.execute(q.delete(table))

    def _has_identity(self, table: TableInfo, columns: Sequence[str]) -> bool:
        return any((c := table.column(n)) is not None and c.is_identity for n in columns)

    def begin_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        if self._has_identity(table, columns):
            self.execute(q.identity_insert(table, True))
        self._release_stage(table)  # a stale stage of an earlier, unfinished load
        cols = common.insertable(table, columns)
        if cols and self.bulk_copy_available():
            stage = self._open_stage(table, cols)
            if stage is not None:
                self._stages[_key(table)] = stage

    def end_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        # With IDENTITY_INSERT the server already moves the seed past the largest value.
        try:
            if self._has_identity(table, columns):
                self.execute(q.identity_insert(table, False))
        finally:
            self._release_stage(table)

    def abort_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        self._release_stage(table)
        if self._has_identity(table, columns):
            try:  # session state, not transactional: a rollback would leave it on
                self.execute(q.identity_insert(table, False))
            except Exception:  # noqa: BLE001 - the load's own error is the one to report
                log.debug("IDENTITY_INSERT OFF failed after an aborted load")

    def close(self) -> None:
        for key in list(self._stages):
            self._release_key(key)
        super().close()

    # --- bulk copy through a staging table -------------------------------------------------
    def bulk_copy_available(self) -> bool:
        if not opts.truthy(self.params.options.get("bulk_copy"), True):
            return False
        try:
            import mssql_py_core  # noqa: F401 - the native core bulk copy runs on
            import mssql_python  # noqa: F401
        except ImportError:
            return False
        return True

    def _bulk_timeout(self) -> int:
        try:
            return max(0, int(self.params.options.get("bulk_timeout", DEFAULT_BULK_TIMEOUT)))
        except (TypeError, ValueError):
            return DEFAULT_BULK_TIMEOUT

    def _open_stage(self, table: TableInfo, cols: list[str]) -> _Stage | None:
        """Connect the auxiliary session and create the staging table; None (after logging
        why, scrubbed) when either fails, so the table is loaded without bulk copy."""
        import mssql_python

        label = f"{table.schema}.{table.name}"
        conn = None
        try:
            conn = mssql_python.connect(
                self.bulk_connection_string(),
                autocommit=True,
                timeout=max(1, int(self.params.timeout)),
            )
            stage = _Stage(conn, q.stage_name(secrets.token_hex(16)), list(cols))
            infos = [c for n in cols if (c := table.column(n)) is not None]
            _aux_execute(conn, q.lock_timeout(STAGE_LOCK_TIMEOUT_MS))
            _aux_execute(conn, q.stage_create(table, infos, stage.name))
            return stage
        except Exception as exc:  # noqa: BLE001 - fall back to fast_executemany
            log.warning(
                "table '%s': bulk copy unavailable, loading with fast_executemany (%s, rule %s)",
                label,
                type(exc).__name__,
                classify(exc)[0],
            )
            if conn is not None:
                _close_quietly(conn)
            return None

    def _write_staged(self, stage: _Stage, table: TableInfo, batch: pa.RecordBatch) -> int:
        self._bulk_copy(stage, table, batch)
        cur = self.connect().cursor()
        try:
            with self._insert_errors(table):
                cur.execute(q.insert_from_stage(table, stage.columns, stage.name))
        finally:
            cur.close()
        self._aux(stage, table, q.truncate_stage(stage.name))
        return batch.num_rows

    def _bulk_copy(self, stage: _Stage, table: TableInfo, batch: pa.RecordBatch) -> None:
        options = {
            "batch_size": 0,
            "timeout": self._bulk_timeout(),
            "keep_identity": True,
            "keep_nulls": True,
            "table_lock": True,
            "check_constraints": False,
            "fire_triggers": False,
            "use_internal_transaction": False,
        }
        natives = [_native(table, c) for c in stage.columns]
        cur = stage.conn.cursor()
        try:
            if stage.arrow:
                try:
                    cur.bulkcopy_arrow(
                        stage.name, _stage_batch(batch, stage.columns, natives), **options
                    )
                    return
                except Exception as exc:  # noqa: BLE001 - classified just below
                    if not _is_arrow_type_error(exc):
                        raise self._bulk_error(exc, table, stage) from exc
                    log.info(
                        "table '%s.%s': Arrow bulk copy refused a type (%s); "
                        "copying rows as tuples",
                        table.schema,
                        table.name,
                        type(exc).__name__,
                    )
                    stage.arrow = False
                    # A failed bulk load is one statement, rolled back; empty it regardless.
                    self._aux(stage, table, q.truncate_stage(stage.name))
            rows = [
                tuple(_encode_staged(v, n) for v, n in zip(r, natives, strict=True))
                for r in common.batch_rows(batch, stage.columns)
            ]
            try:
                cur.bulkcopy(stage.name, rows, **options)
            except Exception as exc:  # noqa: BLE001
                raise self._bulk_error(exc, table, stage) from exc
        finally:
            _close_quietly(cur)

    def _aux(self, stage: _Stage, table: TableInfo, sql: str) -> None:
        try:
            _aux_execute(stage.conn, sql)
        except Exception as exc:  # noqa: BLE001
            raise self._bulk_error(exc, table, stage) from exc

    def _bulk_error(self, exc: BaseException, table: TableInfo, stage: _Stage) -> MaskingError:
        return _refused(exc, table, "bulk copy")

    def _release_stage(self, table: TableInfo) -> None:
        self._release_key(_key(table))

    def _release_key(self, key: tuple[str, str]) -> None:
        """Drop the staging table and close its session; never raises."""
        stage = self._stages.pop(key, None)
        if stage is None:
            return
        try:
            _aux_execute(stage.conn, q.drop_stage(stage.name))
        except Exception as exc:  # noqa: BLE001 - closing the session drops it as well
            log.debug(
                "dropping a staging table failed (%s); closing its session", type(exc).__name__
            )
        _close_quietly(stage.conn)

    def create_table_sql(
        self,
        table: TableInfo,
        target_schema: str,
        target_name: str,
        *,
        source_dialect: str | None = None,
    ) -> str:
        return ddl.create_table_sql(
            table,
            target_schema,
            target_name,
            source_dialect=source_dialect,
            target_dialect="sqlserver",
            qualified=self.qualified,
            quote=self.quote,
            identity_clause=lambda c: "IDENTITY(1, 1)",
        )

    def category_of(self, native_type: str) -> TypeCategory:
        return SQLSERVER_TYPES.get(native_type.lower().strip(), TypeCategory.OTHER)


def _key(table: TableInfo) -> tuple[str, str]:
    return (table.schema, table.name)


def _native(table: TableInfo, name: str) -> str:
    col = table.column(name)
    return col.native_type.lower().strip() if col is not None else ""


def _aux_execute(conn: Any, sql: str) -> None:
    cur = conn.cursor()
    try:
        cur.execute(sql)
    finally:
        _close_quietly(cur)


def _close_quietly(resource: Any) -> None:
    try:
        resource.close()
    except Exception:  # noqa: BLE001 - already closed or the session is gone
        pass


def _stage_batch(
    batch: pa.RecordBatch, columns: Sequence[str], natives: Sequence[str]
) -> pa.RecordBatch:
    """The batch as full staging rows: exactly `columns`, in order. Timestamps are UTC:
    tz-aware into datetimeoffset, naive elsewhere (bulk copy refuses to drop a zone)."""
    arrays, fields = [], []
    for name, native in zip(columns, natives, strict=True):
        arr = batch.column(batch.schema.get_field_index(name))
        if pa.types.is_timestamp(arr.type):
            if native == "datetimeoffset" and arr.type.tz is None:
                arr = arr.cast(pa.timestamp(arr.type.unit, tz="UTC"))
            elif native != "datetimeoffset" and arr.type.tz is not None:
                arr = arr.cast(pa.timestamp(arr.type.unit))
        arrays.append(arr)
        fields.append(pa.field(name, arr.type, nullable=True))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _encode_staged(v: Any, native: str) -> Any:
    if native == "datetimeoffset" and isinstance(v, dt.datetime):
        # Bulk copy wants an aware value here; naive ones are UTC (as in the Arrow path).
        return v.astimezone(dt.timezone.utc) if v.tzinfo else v.replace(tzinfo=dt.timezone.utc)
    return _encode(v)


def _encode(v: Any) -> Any:
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        # datetimeoffset receives UTC; a naive datetime2 converts with offset +00:00.
        return v.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return v


def _refused(exc: BaseException, table: TableInfo, stage: str) -> MaskingError:
    return database_error(
        exc,
        table=f"{table.schema}.{table.name}",
        stage=stage,
        columns=[c.name for c in table.columns],
    )
