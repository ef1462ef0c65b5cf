"""PostgreSQL through psycopg 3: catalog introspection, keyset reads, COPY writes.

Options: `sslmode` (disable ... verify-full), `sslrootcert`, `sslcert`, `sslkey`.
json/jsonb, arrays, ranges, intervals, network and geometric types are read as their text form
(category "other"), which COPY accepts back unchanged. `time with time zone` is read as a plain
time (Arrow's time64 has no offset). Unbounded `numeric` becomes decimal128(38, 10)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa

from masking.dberrors import connection_failed
from masking.dialects import (
    common,
    ddl,
    pgpublish,
    pgswap,
    postgresql_arrow,
    postgresql_catalog,
    postgresql_copy,
    postgresql_read,
)
from masking.dialects.base import Capabilities, Dialect, TestResult
from masking.dialects.pgcopy import CopyStream
from masking.dialects.typemaps import POSTGRESQL_TYPES
from masking.errors import ConnectionFailed
from masking.schema import (
    ColumnInfo,
    ForeignKey,
    TableInfo,
    TableSummary,
)

_SQLSTATE_CATEGORY = {
    "28P01": "login_failed",
    "28000": "login_failed",
    "3D000": "database_not_found",
    "42501": "permission_denied",
    "08001": "unreachable",
    "08006": "unreachable",
}


class PostgreSQLDialect(Dialect):
    name = "postgresql"
    capabilities = Capabilities(
        sqlglot_dialect="postgres",
        quote_open='"',
        quote_close='"',
        supports_schemas=True,
        default_schema="public",
        max_params_per_statement=65535,
        truncate_is_transactional=True,
        max_identifier_length=63,
    )
    type_map = POSTGRESQL_TYPES
    _stream: CopyStream | None = None
    _pages: postgresql_copy.CopyPages | postgresql_arrow.ArrowPages | None = None
    _pages_tried = False
    _read_token: str | None = None  # the snapshot reads share, inside snapshot_reads
    _reading_alone = False  # inside snapshot_reads without a snapshot to share

    # --- connection ---------------------------------------------------------------------------
    def connect(self) -> Any:
        if self._conn is not None:
            return self._conn
        try:
            import psycopg
        except ImportError as exc:
            raise ConnectionFailed("driver_missing", "psycopg is not installed") from exc
        kwargs = self._libpq_options()
        try:
            # Autocommit: reads never hold a transaction open; writes use transaction().
            self._conn = psycopg.connect(autocommit=True, **kwargs)
        except psycopg.Error as exc:
            raise self._connection_failed(exc) from exc
        return self._conn

    def _libpq_options(self) -> dict[str, Any]:
        p = self.params
        kwargs: dict[str, Any] = {
            "host": p.host or "127.0.0.1",
            "port": p.port or 5432,
            "dbname": p.database,
            "user": p.username,
            "connect_timeout": max(1, int(p.timeout)),
            "application_name": "maskflow",
        }
        if p.password:
            kwargs["password"] = p.password
        for key in ("sslmode", "sslrootcert", "sslcert", "sslkey"):
            if p.options.get(key):
                kwargs[key] = p.options[key]
        return kwargs

    def close(self) -> None:
        pages, self._pages, self._pages_tried = self._pages, None, False
        try:
            if pages is not None:
                pages.close()
        finally:
            super().close()

    def _connection_failed(self, exc: Exception) -> ConnectionFailed:
        raw = str(exc)
        category = _SQLSTATE_CATEGORY.get(getattr(exc, "sqlstate", None) or "")
        low = raw.lower()
        if category is None:
            if "does not exist" in low and "database" in low:
                category = "database_not_found"
            else:
                category = common.classify(raw)
        return connection_failed(category)

    def test(self) -> TestResult:
        def probe(conn: Any) -> str:
            return str(conn.execute("SELECT version()").fetchone()[0]).split(" on ")[0]

        return TestResult(*common.timed_test(self.connect, probe, [self.params.password]))

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query; without parameters `%` is literal, with them it must be doubled."""
        with self.connect().cursor() as cur:
            cur.execute(sql, params or None)
            return cur.fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.connect().cursor() as cur:
            cur.execute(sql, params or None)

    # --- introspection ------------------------------------------------------------------------
    def list_schemas(self) -> list[str]:
        return postgresql_catalog.list_schemas(self._rows)

    def list_tables(self, schema: str) -> list[TableSummary]:
        return postgresql_catalog.list_tables(self._rows, schema)

    def describe_table(self, schema: str, table: str) -> TableInfo:
        return postgresql_catalog.describe_table(self._rows, schema, table)

    # --- reading ------------------------------------------------------------------------------
    def count_rows(self, table: TableInfo, where: str | None = None) -> int:
        sql = f"SELECT count(*) FROM {self.qualified(table.schema, table.name)}"
        if where:
            sql += f" WHERE ({where})"
        return int(self._rows(sql)[0][0])

    def read_batches(
        self, table: TableInfo, columns: Sequence[str], batch_size: int, where: str | None = None
    ) -> Iterator[pa.RecordBatch]:
        return postgresql_read.read_batches(self, table, columns, batch_size, where)

    def arrow_pages(self) -> postgresql_copy.CopyPages | postgresql_arrow.ArrowPages | None:
        """The binary COPY reader (or, where it cannot open, the ADBC one), opened on first
        use; None inside a read transaction that has no snapshot to share with it, or when
        neither opens."""
        if self._reading_alone:
            return None
        if not self._pages_tried:
            self._pages_tried = True
            options = self._libpq_options()
            self._pages = postgresql_copy.open_pages(options) or postgresql_arrow.open_pages(
                options
            )
            if self._pages is not None and self._read_token:
                self._pages.begin(self._read_token)
        return self._pages

    def _utf8(self) -> bool:
        return str(self.connect().info.encoding).lower().replace("_", "-") in ("utf-8", "utf8")

    # --- writing ------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_tx:
            yield
            return
        self._in_tx = True
        try:
            with self.connect().transaction():
                yield
        finally:
            self._in_tx = False

    def begin_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        """Open the table's COPY stream: it stays open across batches, so the server parses
        and indexes one batch while the next is being masked."""
        self.abort_load(table, columns)
        if common.insertable(table, columns):
            self._deferred = self._defer_indexes(table)
            self._stream = CopyStream(self, table, columns, threaded=True)

    def _defer_indexes(self, table: TableInfo) -> list[tuple[str, str]]:
        """Into an empty table, inside the run's transaction: drop its primary key, unique
        constraints and other indexes (those postgresql_catalog.DEFERRABLE_INDEXES lists:
        none a foreign key relies on) until end_load.

        Masked values arrive in random order, and inserting them one by one into each index
        costs far more than building the index once, sorted, after the load. The DDL is part
        of the transaction, so a rollback restores every index as it was; a duplicate
        surfaces when a unique index is rebuilt. Returns (name, statement re-creating it)."""
        if not self._in_tx:
            return []
        target = self.qualified(table.schema, table.name)
        if self._rows(f"SELECT EXISTS (SELECT 1 FROM {target})")[0][0]:
            return []
        oid = self._oid(table)
        # Dropping needs ownership; a login that may only insert loads with the indexes on.
        if not self._rows(postgresql_catalog.OWNS_TABLE, (oid,))[0][0]:
            return []
        found = self._rows(postgresql_catalog.DEFERRABLE_INDEXES, (oid, oid))
        out = []
        for name, condef, indexdef in found:
            if condef is not None:
                self.execute(f"ALTER TABLE {target} DROP CONSTRAINT {self.quote(name)}")
                out.append(
                    (name, f"ALTER TABLE {target} ADD CONSTRAINT {self.quote(name)} {condef}")
                )
            else:
                self.execute(f"DROP INDEX {self.qualified(table.schema, name)}")
                out.append((name, indexdef))
        return out

    def write_batch(self, table: TableInfo, columns: Sequence[str], batch: pa.RecordBatch) -> int:
        if batch.num_rows == 0 or not common.insertable(table, columns):
            return 0
        stream = self._stream
        if stream is not None and stream.serves(table, columns):
            stream.write(batch)
            return batch.num_rows
        one_shot = CopyStream(self, table, columns)  # outside begin_load/end_load
        try:
            one_shot.write(batch)
        except BaseException:
            one_shot.abort()
            raise
        one_shot.finish()
        return batch.num_rows

    def abort_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        self._deferred = []  # the rollback restores them
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.abort()

    def clear_table(self, table: TableInfo) -> None:
        target = self.qualified(table.schema, table.name)
        # TRUNCATE refuses a table that another table references, even an empty one.
        referenced = self._rows(
            "SELECT 1 FROM pg_catalog.pg_constraint con WHERE con.contype = 'f' "
            "AND con.confrelid = %s AND con.conrelid <> con.confrelid LIMIT 1",
            (self._oid(table),),
        )
        self.execute(f"{'DELETE FROM' if referenced else 'TRUNCATE'} {target}")

    def _oid(self, table: TableInfo) -> int:
        found = self._rows(postgresql_catalog.TABLE_OID, (table.schema, table.name))
        if not found:
            raise common.not_found(table.schema, table.name)
        return int(found[0][0])

    def end_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        """Close the COPY stream (constraint errors found by the server surface here), then
        move identity/serial sequences past the highest loaded value."""
        import psycopg

        stream, self._stream = self._stream, None
        if stream is not None:
            stream.finish()
        self._rebuild_deferred(table, psycopg.IntegrityError)
        target = self.qualified(table.schema, table.name)
        for name in columns:
            col = table.column(name)
            if col is None or not col.is_identity:
                continue
            seq = self._rows("SELECT pg_catalog.pg_get_serial_sequence(%s, %s)", (target, name))
            if not seq or seq[0][0] is None:
                continue
            esc = postgresql_read.esc
            sql = (
                f"SELECT pg_catalog.setval(%s::regclass, "
                f"coalesce(max({esc(self.quote(name))}), 0) + 1, false) FROM {esc(target)}"
            )
            self._rows(sql, (seq[0][0],))

    # --- staged runs ------------------------------------------------------------------------
    read_consistency = "snapshot"
    publish_enforces_keys = True

    def create_stage_sql(self, stage: str, table: str, columns: str) -> str:
        # UNLOGGED: no WAL for rows that are moved once and dropped.
        return f"CREATE UNLOGGED TABLE {stage} AS SELECT {columns} FROM {table} WITH NO DATA"

    def publish_from(self, stage: TableInfo, table: TableInfo, columns: Sequence[str]) -> None:
        """INSERT ... SELECT inside the server, identity values kept (OVERRIDING SYSTEM VALUE);
        into an empty table its keys and indexes are built once after the insert."""
        import psycopg

        cols = ", ".join(self.quote(c) for c in columns)
        always = any((c := table.column(n)) is not None and c.is_identity for n in columns)
        try:
            self._deferred = self._defer_indexes(table)
            self.execute(
                f"INSERT INTO {self.qualified(table.schema, table.name)} ({cols})"
                f"{' OVERRIDING SYSTEM VALUE' if always else ''}"
                f" SELECT {cols} FROM {self.qualified(stage.schema, stage.name)}"
            )
            self.end_load(table, columns)
        except psycopg.Error:
            self._deferred = []  # the rollback restores them
            raise

    def swap_signatures(self, tables: Sequence[TableInfo]) -> list[str] | None:
        return pgswap.signatures(self, tables)

    def copy_stage_sql(self, stage: str, table: str) -> str:
        return pgswap.copy_sql(self, stage, table)

    def prepare_swap(
        self,
        tables: Sequence[TableInfo],
        stages: Sequence[TableInfo],
        columns: Sequence[Sequence[str]],
        copies: Sequence[str | None],
    ) -> pgswap.Swap:
        return pgswap.build(self, tables, stages, columns, copies)

    def swap_in(self, swap: pgswap.Swap) -> bool:
        return pgswap.swap_in(self, swap)

    def defer_foreign_keys(self, tables: Sequence[TableInfo]) -> list[tuple[str, str]]:
        return pgpublish.defer_foreign_keys(self, tables)

    def restore_foreign_keys(self, deferred: Sequence[tuple[str, str]]) -> None:
        pgpublish.restore_foreign_keys(self, deferred)

    def export_snapshot(self) -> str | None:
        self.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        self.execute(postgresql_arrow.NO_IDLE_TIMEOUT)
        return str(self._rows("SELECT pg_catalog.pg_export_snapshot()")[0][0])

    @contextmanager
    def snapshot_reads(self, token: str | None) -> Iterator[None]:
        if token is not None and not _SNAPSHOT_ID.match(token):
            raise ValueError("not a snapshot identifier")
        self.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        self.execute(postgresql_arrow.NO_IDLE_TIMEOUT)
        pages = self._pages
        try:
            if token:
                self.execute(f"SET TRANSACTION SNAPSHOT '{token}'")
                self._read_token = token
                if pages is not None:
                    pages.begin(token)
            else:
                self._reading_alone = True
            yield
        finally:
            self._read_token, self._reading_alone = None, False
            if self._pages is not None:
                self._pages.end()
            if self._conn is not None and not self._conn.closed:
                self.execute("ROLLBACK")  # read only: nothing to keep

    def create_table_sql(
        self,
        table: TableInfo,
        target_schema: str,
        target_name: str,
        *,
        source_dialect: str | None = None,
        foreign_keys: Sequence[ForeignKey] = (),
    ) -> str:
        def identity(col: ColumnInfo) -> str:
            typ = ddl.column_type(col, source_dialect, "postgresql")
            if typ.lower() in ("smallint", "integer", "int", "bigint", "int2", "int4", "int8"):
                return "GENERATED BY DEFAULT AS IDENTITY"
            return ""

        return ddl.create_table_sql(
            table,
            target_schema,
            target_name,
            source_dialect=source_dialect,
            target_dialect="postgresql",
            qualified=self.qualified,
            quote=self.quote,
            identity_clause=identity,
            foreign_keys=foreign_keys,
        )


_SNAPSHOT_ID = re.compile(r"^[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+$")
