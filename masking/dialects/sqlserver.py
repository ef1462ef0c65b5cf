"""SQL Server through pyodbc and Microsoft's ODBC driver (installed, or bundled; see odbc.py).

Options: see sqlserver_options.py (TLS, timeouts, intent, packet size) and `driver` (name or
path; default odbc.find_driver()), `bulk_copy` (default on), `bulk_timeout` (seconds per
bulk-copy call, default 300).

Loading: through the TDS bulk-copy protocol into staging tables, moved into the target inside
the run's transaction (sqlserver_bulk.py), when mssql-python's native core is importable and
`bulk_copy` is on; otherwise, or when the staging cannot be set up, with pyodbc's
`fast_executemany`. Either way load_path says which, per table, for the run's report. Reads
are keyset-paginated on the primary key (one forward-only pass without one). No message, log
line or exception carries the password or row values."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa

from masking.dberrors import classify, connection_failed
from masking.dialects import common, ddl, odbc
from masking.dialects import sqlserver_bulk as bulk
from masking.dialects import sqlserver_clear as clear
from masking.dialects import sqlserver_keys as keys
from masking.dialects import sqlserver_load as staging
from masking.dialects import sqlserver_offsets as tz
from masking.dialects import sqlserver_options as opts
from masking.dialects import sqlserver_sql as q
from masking.dialects.base import Capabilities, ConnectionParams, Dialect, TestResult
from masking.dialects.sqlserver_keys import StagedPublish
from masking.dialects.sqlserver_sessions import BulkSessions
from masking.dialects.sqlserver_snapshot import SnapshotReads
from masking.dialects.typemaps import SQLSERVER_TYPES
from masking.errors import ConnectionFailed
from masking.schema import ColumnInfo, ForeignKey, TableInfo, TableSummary, TypeCategory

log = logging.getLogger(__name__)

# Catalog reads whose answer is the server's, the same for every table of a run: which
# columns of later versions its sys views have (sqlserver_clear, sqlserver_keys). Read once
# per dialect, not once per table's load: each is a round trip (tens of milliseconds on the
# stand-in's views), and a run may load hundreds of tables.
SERVER_CONSTANT = frozenset({clear.CATALOG_OPTIONS, keys.CATALOG_OPTIONS})
STAGE_LOCK_TIMEOUT_MS = 30_000  # staging DDL and DROP wait at most this long for locks

_SQLSTATE_CATEGORY = {
    "28000": "login_failed",
    "HYT00": "unreachable",
    "08001": "unreachable",
    "IM002": "driver_missing",
    "42000": "permission_denied",
}


class SQLServerDialect(SnapshotReads, StagedPublish, Dialect):
    name = "sqlserver"
    keeps_offsets = True
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
        self._stages: dict[tuple[str, str], staging.StagedLoad] = {}
        self._paths: dict[tuple[str, str], str] = {}
        # the bulk-copy sessions, shared by every table of the run
        self._bulk = BulkSessions(self._aux_open)
        self._moved: list[str] = []  # DROPs of staging tables a rollback would bring back
        self._keys: dict[tuple[str, str], list[str]] = {}  # keys to add back (sqlserver_keys)
        self._clears: dict[tuple[str, str], TableInfo] = {}  # to TRUNCATE (sqlserver_clear)
        self._constant: dict[str, list[tuple[Any, ...]]] = {}  # see SERVER_CONSTANT

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
        if sql in SERVER_CONSTANT:  # read once per dialect
            if sql not in self._constant:
                self._constant[sql] = self._read(sql, params)
            return list(self._constant[sql])
        return self._read(sql, params)

    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
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

    def fetchable(self, col: ColumnInfo) -> str:
        return q.select_expr(col)

    def qualified(self, schema: str, table: str) -> str:
        return q.qualified(schema, table)

    # --- introspection ------------------------------------------------------------------------
    def list_schemas(self) -> list[str]:
        return [r[0] for r in self._rows(q.SCHEMAS)]

    def list_tables(self, schema: str) -> list[TableSummary]:
        return [
            # a negative count is a server that keeps none (Babelfish says -1): no estimate
            TableSummary(schema, name, None if est is None or est < 0 else int(est), kind)
            for name, est, kind in self._rows(q.TABLES, (schema,))
        ]

    def describe_table(self, schema: str, table: str) -> TableInfo:
        return q.describe(self._rows, schema, table, self.category_of)

    # --- reading ------------------------------------------------------------------------------
    def count_rows(self, table: TableInfo, where: str | None = None) -> int:
        if bulk.key(table) in self._clears:
            return 0  # cleared: its TRUNCATE waits for its load (clear_table)
        return int(self._rows(q.count(table, where))[0][0])

    def read_batches(
        self, table: TableInfo, columns: Sequence[str], batch_size: int, where: str | None = None
    ) -> Iterator[pa.RecordBatch]:
        if bulk.key(table) in self._clears:
            return  # cleared: its TRUNCATE waits for its load (clear_table)
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
            yield tz.read_batch(rows, wanted, len(wanted) + len(extra))
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
                yield tz.read_batch([tuple(r) for r in rows], wanted, len(wanted))
        finally:
            cur.close()

    # --- writing ------------------------------------------------------------------------------
    def _begin(self) -> None:
        self.connect().autocommit = False

    def _commit(self) -> None:
        conn = self.connect()
        try:
            try:
                self._empty_pending()  # a table cleared and never loaded
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            self._moved = []
        finally:
            conn.autocommit = True
            self._drop_moved()  # a commit that failed rolled back: the stages are back

    def _rollback(self) -> None:
        self._clears.clear()
        conn = self.connect()
        try:
            conn.rollback()
        finally:
            conn.autocommit = True
            self._drop_moved()

    def _drop_moved(self) -> None:
        """Staging tables dropped inside a transaction that rolled back exist again."""
        moved, self._moved = self._moved, []
        for sql in moved:
            try:
                self.execute(sql)
            except Exception as exc:  # noqa: BLE001 - the run's own error is the one to report
                log.warning("a staging table could not be dropped (%s)", type(exc).__name__)

    def load_path(self, table: TableInfo) -> str:
        return self._paths.get(bulk.key(table), "")

    def write_batch(self, table: TableInfo, columns: Sequence[str], batch: pa.RecordBatch) -> int:
        cols = common.insertable(table, columns)
        if not cols or batch.num_rows == 0:
            return 0
        stage = self._stages.get(bulk.key(table))
        if stage is not None and stage.columns == cols:
            try:
                stage.add(batch)
            except Exception as exc:  # noqa: BLE001 - scrubbed just below
                raise bulk.refused(exc, table, "bulk copy") from exc
            return batch.num_rows
        rows = tz.fallback_rows(batch, table, cols)
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
            raise bulk.refused(exc, table, "write") from exc

    def clear_table(self, table: TableInfo) -> None:
        """DELETE now, or TRUNCATE where it is exactly a DELETE (sqlserver_clear.py) when the
        table's load begins: its schema lock would block setting up the table's staging, and
        no other table's clearing waits on it (no foreign key either way). Until then the
        table counts and reads as the empty table it is for the run."""
        try:
            later = self._in_tx and clear.truncatable(self._rows, table)
        except Exception as exc:  # noqa: BLE001 - a catalog without these views: DELETE
            log.debug("TRUNCATE not considered (%s)", type(exc).__name__)
            later = False
        if later:
            self._clears[bulk.key(table)] = table
        else:
            self.execute(q.delete(table))

    def _empty(self, table: TableInfo, columns: Sequence[str]) -> None:
        """The clearing clear_table left for when `table` is loaded with `columns`, if any."""
        if self._clears.pop(bulk.key(table), None) is not None:
            self.execute(clear.statement(table, columns))

    def _empty_pending(self) -> None:
        while self._clears:
            _, table = self._clears.popitem()
            self.execute(q.delete(table))

    def _has_identity(self, table: TableInfo, columns: Sequence[str]) -> bool:
        return any((c := table.column(n)) is not None and c.is_identity for n in columns)

    def begin_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        if self._has_identity(table, columns):
            self.execute(q.identity_insert(table, True))
        self._discard_stage(table)  # a stale stage of an earlier, unfinished load
        cols = common.insertable(table, columns)
        self._paths[bulk.key(table)] = "fast_executemany (bulk copy switched off or not installed)"
        if cols and self.bulk_copy_available():
            self._open_stage(table, cols)  # first: its SELECT ... INTO reads the table's schema
        self._empty(table, columns)  # before keys.defer, which needs the table empty
        self._keys[bulk.key(table)] = keys.defer(self, table)

    def end_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        stage = self._stages.pop(bulk.key(table), None)
        try:
            if stage is not None:
                self._move(stage, table)
            for sql in self._keys.pop(bulk.key(table), []):
                self.execute(sql)  # a duplicate key surfaces here
            # With IDENTITY_INSERT the server already moves the seed past the largest value.
            if self._has_identity(table, columns):
                self.execute(q.identity_insert(table, False))
        except BaseException:
            if stage is not None:
                stage.discard()
            raise

    def _move(self, stage: staging.StagedLoad, table: TableInfo) -> None:
        try:
            stage.finish()
        except Exception as exc:  # noqa: BLE001
            raise bulk.refused(exc, table, "bulk copy") from exc
        cur = self.connect().cursor()
        try:
            with self._insert_errors(table):
                cur.execute(stage.move_statement())
        finally:
            cur.close()
        # Dropped in the run's transaction: a rollback brings them back (see _rollback).
        for sql in stage.drop_statements():
            self.execute(sql)
            if self._in_tx:
                self._moved.append(sql)

    def abort_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        self._discard_stage(table)
        self._keys.pop(bulk.key(table), None)  # the rollback restores them
        if self._has_identity(table, columns):
            try:  # session state, not transactional: a rollback would leave it on
                self.execute(q.identity_insert(table, False))
            except Exception:  # noqa: BLE001 - the load's own error is the one to report
                log.debug("IDENTITY_INSERT OFF failed after an aborted load")

    def close(self) -> None:
        for key in list(self._stages):
            self._stages.pop(key).discard()
        self._bulk.close()
        super().close()

    # --- bulk copy through staging tables (sqlserver_bulk.py) -------------------------------
    def bulk_copy_available(self) -> bool:
        return opts.bulk_copy_on(self.params)

    def prepare_load(self) -> None:
        if self.bulk_copy_available():
            self._bulk.open_ahead()

    def _aux_open(self) -> Any:
        conn = bulk.core_connect(self.bulk_connection_string(), self.params.timeout)
        try:
            bulk.core_execute(conn, q.lock_timeout(STAGE_LOCK_TIMEOUT_MS))
        except BaseException:
            bulk.close_quietly(conn)
            raise
        return conn

    def _open_stage(self, table: TableInfo, cols: list[str]) -> None:
        """Set up the table's staging; when that fails, log why (scrubbed) and record the
        fallback, so the table is loaded with fast_executemany."""
        try:
            conn = self._bulk.first()
            stage = staging.StagedLoad(
                conn,
                table,
                cols,
                secrets.token_hex(8),
                joined=bool(self._bulk.joined),
                timeout=opts.bulk_timeout(self.params),
                second=self._bulk.second if self._bulk.joined else None,
            )
        except Exception as exc:  # noqa: BLE001 - fall back to fast_executemany
            rule = classify(exc)[0]
            log.warning(
                "table '%s.%s': bulk copy unavailable, loading with fast_executemany (%s, rule %s)",
                table.schema,
                table.name,
                type(exc).__name__,
                rule,
            )
            self._paths[bulk.key(table)] = f"fast_executemany (bulk copy unavailable: {rule})"
            return
        self._stages[bulk.key(table)] = stage
        self._paths[bulk.key(table)] = stage.path

    def _discard_stage(self, table: TableInfo) -> None:
        stage = self._stages.pop(bulk.key(table), None)
        if stage is not None:
            stage.discard()

    def create_table_sql(
        self,
        table: TableInfo,
        target_schema: str,
        target_name: str,
        *,
        source_dialect: str | None = None,
        foreign_keys: Sequence[ForeignKey] = (),
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
            foreign_keys=foreign_keys,
        )

    def category_of(self, native_type: str) -> TypeCategory:
        return SQLSERVER_TYPES.get(native_type.lower().strip(), TypeCategory.OTHER)
