"""SQL Server through pyodbc and Microsoft's ODBC driver (installed, or bundled; see odbc.py).

Options: `driver` (name or path; default odbc.find_driver()), `encrypt` (default yes; also
"strict"), `trust_server_certificate` (default no)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa

from masking.dialects import common, ddl, odbc
from masking.dialects import sqlserver_sql as q
from masking.dialects.base import Capabilities, Dialect, TestResult
from masking.dialects.typemaps import SQLSERVER_TYPES
from masking.errors import ConnectionFailed, TerminalError, TransientError
from masking.schema import ForeignKey, TableInfo, TableSummary, TypeCategory, UniqueConstraint

_SQLSTATE_CATEGORY = {"28000": "login_failed", "HYT00": "unreachable", "08001": "unreachable",
                      "IM002": "driver_missing", "42000": "permission_denied"}


def _yes_no(value: object, default: str) -> str:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value).strip().lower()
    if text in ("strict", "mandatory", "optional"):
        return text
    return "yes" if text in ("1", "true", "yes", "on") else "no"


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

    def connection_string(self, driver: str | None = None) -> str:
        p = self.params
        server = p.host or "127.0.0.1"
        if p.port:
            server = f"tcp:{server},{p.port}"
        return odbc.connection_string({
            "DRIVER": driver or p.options.get("driver") or odbc.find_driver() or "",
            "SERVER": server,
            "DATABASE": p.database,
            "UID": p.username,
            "PWD": p.password,
            "Encrypt": _yes_no(p.options.get("encrypt"), "yes"),
            "TrustServerCertificate": _yes_no(p.options.get("trust_server_certificate"), "no"),
            "Connection Timeout": max(1, int(p.timeout)),
            "APP": "maskflow",
        })

    # --- connection ---------------------------------------------------------------------------
    def connect(self) -> Any:
        if self._conn is not None:
            return self._conn
        try:
            import pyodbc
        except ImportError as exc:
            raise ConnectionFailed("driver_missing", "pyodbc or unixODBC is not installed") \
                from exc
        driver = self.params.options.get("driver") or odbc.find_driver()
        if not driver:
            raise ConnectionFailed("driver_missing", "no ODBC driver for SQL Server found")
        conn_str = self.connection_string(driver)
        try:
            self._conn = pyodbc.connect(conn_str, autocommit=True,
                                        timeout=max(1, int(self.params.timeout)))
        except pyodbc.Error as exc:
            raise self._connection_failed(exc, conn_str) from exc
        return self._conn

    def _connection_failed(self, exc: Exception, conn_str: str) -> ConnectionFailed:
        state = str(exc.args[0]) if exc.args else ""
        raw = " ".join(str(a) for a in exc.args)
        category = common.classify(raw)
        if category == "unknown":
            category = _SQLSTATE_CATEGORY.get(state, "unknown")
        message = common.scrub(raw, [conn_str, self.params.password])
        return ConnectionFailed(category, message)

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
        return [TableSummary(schema, name, None if est is None else int(est), kind)
                for name, est, kind in self._rows(q.TABLES, (schema,))]

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
            ForeignKey(n, tuple(p[0] for p in parts), parts[0][1], parts[0][2],
                       tuple(p[3] for p in parts)) for n, parts in sorted(fks.items()))
        columns = tuple(
            q.column_from_row(r, primary_key, self.category_of(str(r[1])))
            for r in self._rows(q.COLUMNS, (object_id,)))
        return TableInfo(schema, table, columns, primary_key, foreign_keys, uniques,
                         None if estimate is None else int(estimate))

    # --- reading ------------------------------------------------------------------------------
    def count_rows(self, table: TableInfo, where: str | None = None) -> int:
        return int(self._rows(q.count(table, where))[0][0])

    def read_batches(self, table: TableInfo, columns: Sequence[str], batch_size: int,
                     where: str | None = None) -> Iterator[pa.RecordBatch]:
        wanted, extra = common.select_list(table, columns)
        if not table.primary_key:
            yield from self._read_scan(table, wanted, batch_size, where)
            return
        key_idx = [len(wanted) + extra.index(k) if k in extra else list(columns).index(k)
                   for k in table.primary_key]
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

    def _read_scan(self, table: TableInfo, wanted: list[Any], batch_size: int,
                   where: str | None) -> Iterator[pa.RecordBatch]:
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
    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_tx:
            yield
            return
        conn = self.connect()
        conn.autocommit = False
        self._in_tx = True
        try:
            yield
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            self._in_tx = False
            conn.autocommit = True

    def write_batch(self, table: TableInfo, columns: Sequence[str], batch: pa.RecordBatch) -> int:
        import pyodbc

        cols = common.insertable(table, columns)
        if not cols or batch.num_rows == 0:
            return 0
        rows = [tuple(_encode(v) for v in r) for r in common.batch_rows(batch, cols)]
        cur = self.connect().cursor()
        # Parameters are bound column-wise in arrays and sent in bulk, not row by row.
        cur.fast_executemany = True
        try:
            cur.executemany(q.insert(table, cols), rows)
        except pyodbc.IntegrityError as exc:
            raise TerminalError(f"table '{table.schema}.{table.name}': "
                                f"{common.scrub(str(exc))}") from exc
        except pyodbc.OperationalError as exc:
            raise TransientError(common.scrub(str(exc), [self.params.password])) from exc
        finally:
            cur.close()
        return len(rows)

    def clear_table(self, table: TableInfo) -> None:
        self.execute(q.delete(table))

    def _has_identity(self, table: TableInfo, columns: Sequence[str]) -> bool:
        return any((c := table.column(n)) is not None and c.is_identity for n in columns)

    def begin_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        if self._has_identity(table, columns):
            self.execute(q.identity_insert(table, True))

    def end_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        # With IDENTITY_INSERT the server already moves the seed past the largest value.
        if self._has_identity(table, columns):
            self.execute(q.identity_insert(table, False))

    def create_table_sql(self, table: TableInfo, target_schema: str, target_name: str,
                         *, source_dialect: str | None = None) -> str:
        return ddl.create_table_sql(
            table, target_schema, target_name, source_dialect=source_dialect,
            target_dialect="sqlserver", qualified=self.qualified, quote=self.quote,
            identity_clause=lambda c: "IDENTITY(1, 1)",
        )

    def category_of(self, native_type: str) -> TypeCategory:
        return SQLSERVER_TYPES.get(native_type.lower().strip(), TypeCategory.OTHER)


def _encode(v: Any) -> Any:
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        # datetimeoffset receives UTC; a naive datetime2 converts with offset +00:00.
        return v.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return v
