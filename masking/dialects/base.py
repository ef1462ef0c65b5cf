"""The dialect interface. Differences between databases are data (Capabilities), not scattered
ifs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from masking.dialects.background import BackgroundWriter
from masking.errors import TerminalError
from masking.schema import ColumnInfo, ForeignKey, TableInfo, TableSummary, TypeCategory


@dataclass(frozen=True)
class ConnectionParams:
    """Everything needed to open a connection. `password` is plaintext in memory only."""

    dialect: str
    host: str = ""
    port: int | None = None
    database: str = ""  # SQLite: the file path
    username: str = ""
    password: str = field(default="", repr=False)
    options: dict[str, Any] = field(default_factory=dict)
    timeout: int = 10
    # SQLite: the file must resolve (symlinks followed) inside one of these folders at every
    # open, not only when the connection was saved. Empty: anywhere (the engine on its own).
    allowed_dirs: tuple[str, ...] = ()


@dataclass(frozen=True)
class TestResult:
    ok: bool
    category: str  # "ok" or one of masking.errors.CONNECTION_ERROR_CATEGORIES
    message: str  # never contains the password or any other secret
    server_version: str = ""
    elapsed_ms: int = 0


@dataclass(frozen=True)
class Capabilities:
    sqlglot_dialect: str  # "tsql", "postgres", "mysql", "sqlite"
    quote_open: str
    quote_close: str
    supports_schemas: bool
    default_schema: str
    max_params_per_statement: int
    truncate_is_transactional: bool
    max_identifier_length: int = 128


class Dialect(ABC):
    """One open (lazily) connection to one database."""

    name: str
    capabilities: Capabilities
    type_map: dict[str, TypeCategory]  # every native type of the dialect -> category
    # Reads must go through this connection, not a second one of their own: their predicates
    # name its temporary tables (a subset's key tables).
    session_bound: bool = False
    # Writes each datetimeoffset value at its own row's offset (masking.offsets); the batches
    # of every other target lose the offset columns before they reach write_batch.
    keeps_offsets: bool = False

    def __init__(self, params: ConnectionParams):
        self.params = params
        self._conn: Any = None
        self._in_tx = False  # inside transaction(): writes must not commit on their own

    # --- connection -----------------------------------------------------------------------
    @abstractmethod
    def connect(self) -> Any:
        """Open (or return) the DB-API connection, honouring params.timeout."""

    @abstractmethod
    def test(self) -> TestResult:
        """Connect and run a trivial query; never raises, never leaks the password."""

    def close(self) -> None:
        self._abort_writer()  # its thread may be using the connection
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def __enter__(self) -> Dialect:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- identifiers ------------------------------------------------------------------------
    def quote(self, identifier: str) -> str:
        c = self.capabilities
        return c.quote_open + identifier.replace(c.quote_close, c.quote_close * 2) + c.quote_close

    def fetchable(self, col: ColumnInfo) -> str:
        """A select-list item reading `col` in a form the driver can fetch (its own name)."""
        return self.quote(col.name)

    def qualified(self, schema: str, table: str) -> str:
        if self.capabilities.supports_schemas and schema:
            return f"{self.quote(schema)}.{self.quote(table)}"
        return self.quote(table)

    def category_of(self, native_type: str) -> TypeCategory:
        return self.type_map.get(native_type.lower().strip(), TypeCategory.OTHER)

    # --- introspection ------------------------------------------------------------------------
    @abstractmethod
    def list_schemas(self) -> list[str]: ...

    @abstractmethod
    def list_tables(self, schema: str) -> list[TableSummary]: ...

    @abstractmethod
    def describe_table(self, schema: str, table: str) -> TableInfo:
        """Columns (with categories), PK, FKs, unique constraints, row estimate.
        Raises masking.errors.TerminalError if the table does not exist."""

    # --- reading ------------------------------------------------------------------------------
    @abstractmethod
    def count_rows(self, table: TableInfo, where: str | None = None) -> int: ...

    @abstractmethod
    def read_batches(
        self,
        table: TableInfo,
        columns: Sequence[str],
        batch_size: int,
        where: str | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Stream the table in batches ordered by primary key (keyset pagination).
        `where` is an already-validated predicate in this dialect's SQL.

        Tables without a primary key are read in one pass instead (PostgreSQL server-side
        cursor, MySQL unbuffered cursor on its own connection, SQL Server forward-only result,
        SQLite keyset on rowid), drained with fetchmany: memory stays bounded by the batch
        size, but the order is unspecified.

        Arrow types come from the column categories (masking.dialects.arrowconv.arrow_type)."""

    # --- writing ------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One target transaction: commit on success, roll back on any exception. A nested call
        joins the transaction already open."""
        if self._in_tx:
            yield
            return
        self._begin()
        self._in_tx = True
        try:
            yield
        except BaseException:
            self._rollback()
            raise
        else:
            self._commit()
        finally:
            self._in_tx = False

    def _begin(self) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError

    def _rollback(self) -> None:
        raise NotImplementedError

    @abstractmethod
    def write_batch(self, table: TableInfo, columns: Sequence[str], batch: pa.RecordBatch) -> int:
        """Bulk-insert a batch (inside the current transaction); returns rows written."""

    @abstractmethod
    def clear_table(self, table: TableInfo) -> None:
        """Empty the table inside the current transaction (TRUNCATE or DELETE)."""

    # How write_batch puts rows in, for the run's report; a dialect with more than one way
    # says per table which one its last load used (see load_path).
    bulk_load_path: str = ""

    def load_path(self, table: TableInfo) -> str:
        """The load path the last load of `table` used ("" when the dialect has only one):
        shown per table on the execution page and in the report. Never holds data values."""
        return self.bulk_load_path

    def prepare_load(self) -> None:  # noqa: B027
        """A run is about to load into this target: a dialect may start opening what its loads
        need (a bulk-copy session) while the run reads catalogs and counts rows. Returns at
        once and never raises: a failure there surfaces where the load needs what failed."""

    def begin_load(self, table: TableInfo, columns: Sequence[str]) -> None:  # noqa: B027
        """Prepare to insert explicit values into identity columns (e.g. IDENTITY_INSERT ON)."""

    def end_load(self, table: TableInfo, columns: Sequence[str]) -> None:  # noqa: B027
        """Finish the table's load: flush any open bulk stream (errors it reports surface
        here), undo begin_load, resynchronise sequences/auto-increment counters."""

    def abort_load(self, table: TableInfo, columns: Sequence[str]) -> None:  # noqa: B027
        """The load failed part-way and the transaction is about to roll back: drop any open
        bulk stream or staging state so the rollback can run. Must not raise."""

    # --- indexes built after the load (see the dialects' _defer_indexes) ---------------------
    _deferred: list[tuple[str, str]] = []  # noqa: RUF012 (replaced, never mutated)

    def _rebuild_deferred(self, table: TableInfo, integrity_error: type[Exception]) -> None:
        """Re-create the indexes begin_load dropped, each from its own statement; a key the
        loaded rows repeat fails here, naming the index and never a value."""
        deferred, self._deferred = self._deferred, []
        label = f"{table.schema}.{table.name}" if self.capabilities.supports_schemas else table.name
        for name, statement in deferred:
            try:
                self.execute(statement)
            except integrity_error as exc:
                raise TerminalError(
                    f"table '{label}': unique index '{name}' cannot be built: "
                    "the loaded rows repeat a key value"
                ) from exc

    # --- loading in a writer thread (for drivers that release the GIL while a statement runs)
    _writer: BackgroundWriter | None = None
    _writer_for: tuple[str, str, tuple[str, ...]] = ("", "", ())

    def _start_writer(
        self, table: TableInfo, columns: Sequence[str], insert: Callable[[pa.RecordBatch], object]
    ) -> None:
        """From begin_load: write_batch calls for this table and columns go through `insert`
        in a thread (see _queue), until _finish_writer or _abort_writer."""
        self._abort_writer()
        self._writer_for = (table.schema, table.name, tuple(columns))
        self._writer = BackgroundWriter(insert, label=f"table '{table.name}'")

    def _queue(self, table: TableInfo, columns: Sequence[str], batch: pa.RecordBatch) -> bool:
        """Hand the batch to the load's writer thread if one serves this table; its errors
        surface at a later write or at end_load."""
        if self._writer is None or self._writer_for != (table.schema, table.name, tuple(columns)):
            return False
        self._writer.write(batch)
        return True

    def _finish_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.finish()

    def _abort_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.abort()

    # --- staged runs (masking.staging, masking.staged) ----------------------------------------
    def create_stage_sql(self, stage: str, table: str, columns: str) -> str:
        """DDL for an empty staging table holding `columns` of `table` (all three quoted), with
        no constraint and nothing the application sees."""
        return f"CREATE TABLE {stage} AS SELECT {columns} FROM {table} WHERE 1 = 0"

    def publish_from(self, stage: TableInfo, table: TableInfo, columns: Sequence[str]) -> None:
        """Inside the publish transaction: move every staged row into `table` within the
        server (INSERT ... SELECT), as a load: identity values kept, counters resynchronised."""
        cols = ", ".join(self.quote(c) for c in columns)
        source = self.qualified(stage.schema, stage.name)
        self.begin_load(table, columns)
        try:
            self.execute(
                f"INSERT INTO {self.qualified(table.schema, table.name)} ({cols})"
                f" SELECT {cols} FROM {source}"
            )
        except BaseException:
            self.abort_load(table, columns)
            raise
        self.end_load(table, columns)

    def swap_signatures(self, tables: Sequence[TableInfo]) -> list[str] | None:
        """When a truncate-mode staged run into `tables` can publish by swap: each table's
        definition now, and its staging table is then made by copy_stage_sql(); else None."""
        return None

    def copy_stage_sql(self, stage: str, table: str) -> str:
        """DDL for a staging table that is a copy of `table` (both quoted), without its keys,
        for swap_signatures(). Called only when swap_signatures() returned signatures."""
        raise NotImplementedError(f"{self.name} stages no copies: it publishes without swap")

    def prepare_swap(
        self,
        tables: Sequence[TableInfo],
        stages: Sequence[TableInfo],
        columns: Sequence[Sequence[str]],
        copies: Sequence[str | None],
    ) -> Any:
        """Before a truncate-mode publish, outside its transaction: build a replacement for
        each of `tables` (parents first) from its staging table, for swap_in() to put in
        place; `copies`: the signature of each table whose staging table is a copy of it
        (swap_signatures), else None. None when this database publishes only with INSERT ...
        SELECT; an object whose `reason` says why when these tables cannot be swapped."""
        return None

    def swap_in(self, swap: Any) -> bool:
        """Inside the publish transaction: put the replacements of prepare_swap() in place of
        their tables. False, having changed nothing, when a table changed since they were
        built: the caller then publishes with publish_from()."""
        return False

    def defer_foreign_keys(self, tables: Sequence[TableInfo]) -> list[tuple[str, str]]:
        """In the publish transaction, before the inserts: set aside the foreign keys of
        `tables` where checking them once after is cheaper; returns what restore_foreign_keys
        puts back (nothing by default: the keys are checked row by row)."""
        return []

    def restore_foreign_keys(self, deferred: Sequence[tuple[str, str]]) -> None:
        """Put back what defer_foreign_keys set aside, checking every published row."""
        for _, statement in deferred:
            self.execute(statement)

    # Whether the publish itself stops on a value repeated in a unique key of the target (the
    # key is built or checked as the rows go in): the staged check then skips those columns.
    publish_enforces_keys: bool = False

    # What a run's units share when they read: "snapshot" (one exported snapshot), "unit" (each
    # unit reads a consistent snapshot of its own), "" (no snapshot: each statement sees the
    # committed data of its moment). Shown on the execution.
    read_consistency: str = ""

    def export_snapshot(self) -> str | None:
        """Open a transaction on this connection and export its snapshot for other connections
        (None when the database cannot). The connection must stay open while units read."""
        return None

    @contextmanager
    def snapshot_reads(self, token: str | None) -> Iterator[None]:
        """Reads inside the block see one consistent view: the exported snapshot `token`
        when given and supported, else the best the database offers."""
        yield

    @abstractmethod
    def create_table_sql(
        self,
        table: TableInfo,
        target_schema: str,
        target_name: str,
        *,
        source_dialect: str | None = None,
        foreign_keys: Sequence[ForeignKey] = (),
    ) -> str:
        """DDL creating an equivalent table in this dialect (columns, PK, unique), with
        `foreign_keys` (their ref_schema and ref_table already the target's) as constraints.

        `source_dialect` (a dialect name) is the dialect `table` was introspected from: when it
        equals this dialect, native types are kept verbatim; otherwise, or when None, every
        column gets a portable type of its category (sqlglot-rendered)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        cur = self.connect().cursor()
        try:
            cur.execute(sql, params)
        finally:
            cur.close()
