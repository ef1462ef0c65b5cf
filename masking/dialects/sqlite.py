"""SQLite: `database` is the file path. The file must exist unless options["create"] is true;
options["read_only"] opens it read-only (recommended for sources)."""

from __future__ import annotations

import os
import re
import sqlite3
import urllib.parse
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from masking.dberrors import connection_failed, database_error
from masking.dialects import arrowconv, common, ddl, sqlite_arrow, sqlite_introspect, sqlite_values
from masking.dialects.base import Capabilities, Dialect, TestResult
from masking.dialects.typemaps import SQLITE_TYPES, sqlite_category
from masking.errors import ConnectionFailed
from masking.schema import (
    ForeignKey,
    TableInfo,
    TableSummary,
    TypeCategory,
)

# Rows per INSERT statement (each row binds one parameter per column).
MAX_ROWS_PER_INSERT = 2000
# Page cache (KiB) while a table loads; see begin_load.
LOAD_CACHE_KIB = 16384


class SQLiteDialect(Dialect):
    name = "sqlite"
    capabilities = Capabilities(
        sqlglot_dialect="sqlite",
        quote_open='"',
        quote_close='"',
        supports_schemas=False,
        default_schema="main",
        max_params_per_statement=32766,
        truncate_is_transactional=True,
    )
    type_map = SQLITE_TYPES

    def category_of(self, native_type: str) -> TypeCategory:
        return sqlite_category(native_type)

    # --- connection ---------------------------------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        path = self.params.database
        opts = self.params.options
        if not path:
            raise ConnectionFailed("database_not_found", "no database file configured")
        if "\x00" in path:
            raise ConnectionFailed("database_not_found", "the database path is not a valid path")
        if path != ":memory:" and not opts.get("create") and not os.path.exists(path):
            raise ConnectionFailed("database_not_found", "database file does not exist")
        mode = "ro" if opts.get("read_only") else ("rwc" if opts.get("create") else "rw")
        uri = "file::memory:" if path == ":memory:" else self._file_uri(mode)
        try:
            # Autocommit mode: transactions are explicit (BEGIN/COMMIT in transaction()).
            conn = sqlite3.connect(
                uri,
                uri=True,
                timeout=self.params.timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise connection_failed(common.classify(str(exc))) from exc
        conn.execute("PRAGMA foreign_keys = ON")
        self._conn = conn
        return conn

    def _allowed_path(self, path: str) -> str:
        """The file's real path, checked against the allowed folders now: a symlink swapped in
        after the connection was saved must not lead outside them. The real path is what gets
        opened, so what was checked is what is read."""
        real = os.path.realpath(path)
        allowed = [os.path.realpath(d) for d in self.params.allowed_dirs]
        if allowed and not any(
            real == d or real.startswith(d.rstrip(os.sep) + os.sep) for d in allowed
        ):
            raise ConnectionFailed(
                "permission_denied", "the database file is outside the allowed folders"
            )
        return real

    def _file_uri(self, mode: str) -> str:  # mode: ro, rw or rwc
        path = self._allowed_path(self.params.database)  # every open: the pages reader too
        return f"file:{urllib.parse.quote(path)}?mode={mode}"

    def test(self) -> TestResult:
        def probe(conn: sqlite3.Connection) -> str:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return "SQLite " + sqlite3.sqlite_version

        def classify(exc: BaseException, raw: str) -> str:
            return "database_not_found" if "not a database" in raw else common.classify(raw)

        return TestResult(*common.timed_test(self.connect, probe, [], classify))

    # --- introspection (sqlite_introspect), values to and from Arrow (sqlite_values) ----------
    def list_schemas(self) -> list[str]:
        return ["main"]

    def list_tables(self, schema: str) -> list[TableSummary]:
        return sqlite_introspect.list_tables(self.connect(), self.quote)

    def describe_table(self, schema: str, table: str) -> TableInfo:
        return sqlite_introspect.describe_table(self.connect(), self.quote, schema, table)

    # --- reading ------------------------------------------------------------------------------
    def count_rows(self, table: TableInfo, where: str | None = None) -> int:
        sql = f"SELECT count(*) FROM {self.quote(table.name)}"
        if where:
            sql += f" WHERE ({where})"
        return int(self.connect().execute(sql).fetchone()[0])

    def read_batches(
        self, table: TableInfo, columns: Sequence[str], batch_size: int, where: str | None = None
    ) -> Iterator[pa.RecordBatch]:
        wanted, extra = common.select_list(table, columns)
        # Tables without a primary key still have a rowid (unless WITHOUT ROWID, which always
        # has a primary key), so keyset pagination works for every SQLite table.
        keys = [self.quote(k) for k in table.primary_key] or ["rowid"]
        key_names = list(table.primary_key) or ["rowid"]
        select = [self.quote(c.name) for c in wanted] + [self.quote(k) for k in extra]
        if not table.primary_key:
            select.append("rowid")
        key_idx = (
            [
                len(wanted) + extra.index(k) if k in extra else list(columns).index(k)
                for k in key_names
            ]
            if table.primary_key
            else [len(select) - 1]
        )
        base, order = f"SELECT {', '.join(select)}", " ORDER BY " + ", ".join(keys)
        conn = self.connect()
        fast = sqlite_values.row_converter(
            wanted, [table.column(k) for k in extra] + ([] if table.primary_key else [None])
        )
        raw = [f.type for f in fast.struct] if fast is not None else []
        flag = sqlite_arrow.storage_flag(select, raw) if fast is not None else None
        # Pages straight into Arrow while every value has its column's storage form; the
        # first page that does not is read again below, and so is the rest of the table.
        pages = (
            sqlite_arrow.open_pages(self._file_uri("ro"), batch_size)
            if (flag is not None and self.params.database != ":memory:" and not self.session_bound)
            else None
        )
        arrow_base = f"{base}, {flag} FROM {self.quote(table.name)}"
        base += f" FROM {self.quote(table.name)}"
        last: list[Any] | None = None
        try:
            while True:
                conds = [f"({where})"] if where else []
                if last is not None:
                    conds.append(common.keyset_predicate(keys, "?", tuples=True))
                tail = (" WHERE " + " AND ".join(conds) if conds else "") + order + " LIMIT ?"
                args, batch = (*(last or ()), batch_size), None
                if pages is not None and fast is not None:
                    arrays = pages.read(arrow_base + tail, args, raw)
                    if arrays == []:
                        return
                    batch = fast.from_raw(arrays) if arrays is not None else None
                    if batch is None:
                        pages.close()
                        pages = None
                    else:
                        n = batch.num_rows
                        assert arrays is not None  # the batch was built from them
                        last = [arrays[i][n - 1].as_py() for i in key_idx]
                if batch is None:
                    rows = conn.execute(base + tail, args).fetchall()
                    if not rows:
                        return
                    n = len(rows)
                    last = [rows[-1][i] for i in key_idx]
                    if fast is not None:
                        batch = fast.batch(rows)
                        if batch is None:
                            fast = None  # mixed storage forms: value by value from here on
                    if batch is None:
                        by_column: list[tuple] = list(zip(*rows, strict=True))
                        batch = arrowconv.columns_to_batch(
                            [
                                sqlite_values.decode_column(by_column[i], c)
                                for i, c in enumerate(wanted)
                            ],
                            wanted,
                        )
                yield batch
                if n < batch_size:
                    return
        finally:
            if pages is not None:
                pages.close()

    # --- writing ------------------------------------------------------------------------------
    def _begin(self) -> None:
        conn = self.connect()
        conn.execute("BEGIN IMMEDIATE")
        # Foreign keys are checked at COMMIT, not after each statement: a row may reference one
        # a later batch brings (a self-referencing table loads in any order). The run checks
        # them itself before it commits; the COMMIT still refuses a violation.
        conn.execute("PRAGMA defer_foreign_keys = ON")

    def _commit(self) -> None:
        conn = self.connect()
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:  # a deferred key refused: the transaction is still open
            conn.execute("ROLLBACK")
            raise database_error(exc, table="", stage="commit") from exc

    def _rollback(self) -> None:
        self.connect().execute("ROLLBACK")

    def write_batch(self, table: TableInfo, columns: Sequence[str], batch: pa.RecordBatch) -> int:
        """Inside begin_load/end_load the batch is queued for the load's writer thread (its
        errors surface at a later write or at end_load); otherwise it is inserted now."""
        cols = common.insertable(table, columns)
        if not cols or batch.num_rows == 0:
            return 0
        if self._queue(table, columns, batch):
            return batch.num_rows
        return self._insert(table, cols, batch)

    def _insert(self, table: TableInfo, cols: Sequence[str], batch: pa.RecordBatch) -> int:
        conn = self.connect()
        head = (
            f"INSERT INTO {self.quote(table.name)} "
            f"({', '.join(self.quote(c) for c in cols)}) VALUES "
        )
        one = "(" + ", ".join("?" for _ in cols) + ")"
        # Many rows per statement: far fewer statement steps than one INSERT per row.
        limit = min(
            self.capabilities.max_params_per_statement,
            conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER),
        )
        per_stmt = max(1, min(MAX_ROWS_PER_INSERT, limit // len(cols)))
        n = batch.num_rows
        order = getattr(self, "_load_order", {}).get(table.name)
        if order is not None and batch.column(order[0]).null_count == 0:
            batch = batch.take(pc.sort_indices(batch, [(c, "ascending") for c in order[1]]))
        values = [
            sqlite_values.encode_column(batch.column(batch.schema.get_field_index(c))) for c in cols
        ]
        try:
            full = head + ", ".join(one for _ in range(min(per_stmt, n)))
            for start in range(0, n, per_stmt):
                stop = min(start + per_stmt, n)
                sql = (
                    full
                    if stop - start == per_stmt
                    else head + ", ".join(one for _ in range(stop - start))
                )
                conn.execute(
                    sql,
                    list(chain.from_iterable(zip(*(v[start:stop] for v in values), strict=True))),
                )
        except sqlite3.Error as exc:
            raise database_error(
                exc, table=table.name, stage="write", columns=[c.name for c in table.columns]
            ) from exc
        return n

    def begin_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        # A larger page cache for the load: inserts into indexes in random key order (masked
        # unique values) otherwise keep evicting and re-reading index pages. Connection-only;
        # the file and its durability settings are unchanged.
        self.abort_load(table, columns)  # a load left open by a caller that never ended it
        conn = self.connect()
        self._load_order = (
            {table.name: order} if (order := self._insert_order(table, columns)) else {}
        )
        current = int(conn.execute("PRAGMA cache_size").fetchone()[0])
        page = int(conn.execute("PRAGMA page_size").fetchone()[0])
        in_kib = -current if current < 0 else current * page // 1024
        if in_kib < LOAD_CACHE_KIB:
            self._saved_cache_size: int | None = current
            conn.execute(f"PRAGMA cache_size = {-LOAD_CACHE_KIB}")
        self._deferred = self._defer_indexes(table)
        if cols := common.insertable(table, columns):
            # SQLite releases the GIL while it executes a statement: inserting batch N in a
            # thread overlaps with reading and masking batch N+1.
            self._start_writer(table, columns, lambda batch: self._insert(table, cols, batch))

    def _insert_order(
        self, table: TableInfo, columns: Sequence[str]
    ) -> tuple[str, list[str]] | None:
        """(rowid column, unique key) when a batch may be inserted sorted by that key: every row
        carries its rowid (an INTEGER PRIMARY KEY column, unless NULL), so the stored table is
        the same in any insert order; no trigger or self-reference sees the order. Inserting in
        key order keeps the unique index's page accesses local instead of random."""
        rowid = [c.name for c in table.columns if c.is_identity]
        cols = set(common.insertable(table, columns))
        if len(rowid) != 1 or rowid[0] not in cols:
            return None
        if any(fk.ref_table.lower() == table.name.lower() for fk in table.foreign_keys):
            return None
        key = next((u.columns for u in table.unique_constraints if set(u.columns) <= cols), None)
        if key is None:
            return None
        conn = self.connect()
        trigger = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? COLLATE NOCASE",
            (table.name,),
        ).fetchone()
        ddl_row = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table.name,)
        ).fetchone()
        # ON CONFLICT REPLACE/IGNORE clauses decide which of two clashing rows stays by order.
        if trigger or ddl_row is None or re.search(r"\bon\s+conflict\b", ddl_row[0] or "", re.I):
            return None
        return rowid[0], list(key)

    def _defer_indexes(self, table: TableInfo) -> list[tuple[str, str]]:
        """Into an empty table, inside the run's transaction: drop its indexes created by
        CREATE [UNIQUE] INDEX (a UNIQUE constraint's own index cannot be dropped) that no
        foreign key relies on, until end_load re-creates them.

        Masked values arrive in random order; SQLite builds an index from sorted keys far
        faster than it inserts them one by one. The DDL is part of the transaction, so a rollback
        restores each index; a duplicate surfaces when the index is re-created. Returns
        (name, CREATE statement)."""
        if not self._in_tx:
            return []
        conn = self.connect()
        name = self.quote(table.name)
        if conn.execute(f"SELECT EXISTS (SELECT 1 FROM {name})").fetchone()[0]:
            return []
        referenced: list[frozenset[str]] = []
        for (other,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            fks = conn.execute(f"PRAGMA foreign_key_list({self.quote(other)})").fetchall()
            by_id: dict[int, list[str]] = {}
            for fk in fks:  # id, seq, table, from, to, ...
                if str(fk[2]).lower() == table.name.lower() and fk[4] is not None:
                    by_id.setdefault(fk[0], []).append(str(fk[4]).lower())
            referenced.extend(frozenset(cols) for cols in by_id.values())
        out = []
        for _, index, unique, origin, *_ in conn.execute(f"PRAGMA index_list({name})").fetchall():
            if origin != "c":
                continue
            cols = frozenset(
                str(r[2]).lower()
                for r in conn.execute(f"PRAGMA index_info({self.quote(index)})").fetchall()
                if r[2] is not None
            )
            sql = conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (index,)
            ).fetchone()
            if (unique and cols in referenced) or not sql or not sql[0]:
                continue
            conn.execute(f"DROP INDEX {self.quote(index)}")
            out.append((str(index), str(sql[0])))
        return out

    def end_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        try:
            self._finish_writer()
        finally:
            self._load_order = {}
        self._rebuild_deferred(table, sqlite3.IntegrityError)
        self._restore_cache_size()

    def abort_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        self._abort_writer()
        self._deferred = []  # the rollback restores them
        self._load_order = {}
        try:
            self._restore_cache_size()
        except sqlite3.Error:
            pass

    def _restore_cache_size(self) -> None:
        saved = getattr(self, "_saved_cache_size", None)
        if saved is not None and self._conn is not None:
            self._saved_cache_size = None
            self._conn.execute(f"PRAGMA cache_size = {int(saved)}")

    def clear_table(self, table: TableInfo) -> None:
        self.connect().execute(f"DELETE FROM {self.quote(table.name)}")

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
            target_dialect="sqlite",
            qualified=self.qualified,
            quote=self.quote,
            identity_clause=lambda c: "",
            foreign_keys=foreign_keys,
        )
