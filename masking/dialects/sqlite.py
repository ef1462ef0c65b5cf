"""SQLite: `database` is the file path. The file must exist unless options["create"] is true;
options["read_only"] opens it read-only (recommended for sources)."""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import urllib.parse
from collections.abc import Iterator, Sequence
from decimal import Decimal
from itertools import chain
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from masking.dberrors import connection_failed, database_error
from masking.dialects import common, ddl, sqlite_arrow
from masking.dialects.base import Capabilities, Dialect, TestResult
from masking.dialects.typemaps import SQLITE_TYPES, sqlite_category
from masking.errors import ConnectionFailed
from masking.schema import (
    ColumnInfo,
    ForeignKey,
    TableInfo,
    TableSummary,
    TypeCategory,
    UniqueConstraint,
)

# Counting a huge table only to show an estimate is not worth it.
ROW_ESTIMATE_CAP = 1_000_000
# Rows per INSERT statement (each row binds one parameter per column).
MAX_ROWS_PER_INSERT = 2000
# Page cache (KiB) while a table loads; see begin_load.
LOAD_CACHE_KIB = 16384
_TYPE_ARGS = re.compile(r"\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")


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
            if "not a database" in raw:
                return "database_not_found"
            return common.classify(raw)

        return TestResult(*common.timed_test(self.connect, probe, [], classify))

    # --- introspection ------------------------------------------------------------------------
    def list_schemas(self) -> list[str]:
        return ["main"]

    def list_tables(self, schema: str) -> list[TableSummary]:
        rows = (
            self.connect()
            .execute(
                "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
            )
            .fetchall()
        )
        return [
            TableSummary("main", name, self._estimate(name) if kind == "table" else None, kind)
            for name, kind in rows
        ]

    def _estimate(self, table: str) -> int:
        sql = f"SELECT count(*) FROM (SELECT 1 FROM {self.quote(table)} LIMIT ?)"
        return int(self.connect().execute(sql, (ROW_ESTIMATE_CAP,)).fetchone()[0])

    def describe_table(self, schema: str, table: str) -> TableInfo:
        conn = self.connect()
        row = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        if row is None:
            raise common.not_found(schema or "main", table)
        without_rowid = bool(re.search(r"\)\s*without\s+rowid\s*;?\s*$", row[0] or "", re.I))
        info = conn.execute(
            'SELECT cid, name, type, "notnull", dflt_value, pk, hidden '
            "FROM pragma_table_xinfo(?) ORDER BY cid",
            (table,),
        ).fetchall()
        pk_cols = [r for r in info if r[5]]
        pk_cols.sort(key=lambda r: r[5])
        primary_key = tuple(r[1] for r in pk_cols)
        rowid_alias = (
            len(pk_cols) == 1 and pk_cols[0][2].strip().upper() == "INTEGER" and not without_rowid
        )
        columns = []
        for i, (_cid, name, declared, notnull, default, pk, hidden) in enumerate(info):
            if hidden == 1:
                continue
            native = declared.lower().strip()
            base = native.split("(")[0].strip()
            m = _TYPE_ARGS.search(native)
            category = sqlite_category(native)
            max_length = precision = scale = None
            if m:
                if category is TypeCategory.NUMERIC:
                    precision = int(m.group(1))
                    scale = int(m.group(2)) if m.group(2) else 0
                elif category in (TypeCategory.STRING, TypeCategory.BINARY):
                    max_length = int(m.group(1))
            columns.append(
                ColumnInfo(
                    name=name,
                    native_type=base,
                    category=category,
                    # A PK column in a rowid table may hold NULL unless declared NOT NULL, but an
                    # INTEGER PRIMARY KEY never does.
                    nullable=not notnull and not (pk and (rowid_alias or without_rowid)),
                    max_length=max_length,
                    precision=precision,
                    scale=scale,
                    default=default,
                    is_identity=bool(pk) and rowid_alias,
                    is_primary_key=bool(pk),
                    is_computed=hidden in (2, 3),
                    ordinal=i + 1,
                )
            )
        fks: dict[int, list[Any]] = {}
        for fid, _seq, ref_table, frm, to in conn.execute(
            'SELECT id, seq, "table", "from", "to" FROM pragma_foreign_key_list(?) '
            "ORDER BY id, seq",
            (table,),
        ):
            fks.setdefault(fid, []).append((ref_table, frm, to))
        foreign_keys = []
        for fid, parts in sorted(fks.items()):
            ref_table = parts[0][0]
            ref_cols = [p[2] for p in parts]
            if any(c is None for c in ref_cols):  # REFERENCES parent without columns
                ref_cols = self._pk_of(ref_table)
            foreign_keys.append(
                ForeignKey(
                    f"fk_{table}_{fid}",
                    tuple(p[1] for p in parts),
                    "main",
                    ref_table,
                    tuple(ref_cols),
                )
            )
        uniques = []
        for name, unique, origin, partial in conn.execute(
            'SELECT name, "unique", origin, partial FROM pragma_index_list(?) ORDER BY name',
            (table,),
        ):
            if not unique or origin == "pk" or partial:
                continue
            cols = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM pragma_index_info(?) ORDER BY seqno", (name,)
                )
            ]
            if None in cols:  # expression index
                continue
            uniques.append(UniqueConstraint(name, tuple(cols)))
        return TableInfo(
            "main",
            table,
            tuple(columns),
            primary_key,
            tuple(foreign_keys),
            tuple(uniques),
            self._estimate(table),
        )

    def _pk_of(self, table: str) -> list[str]:
        rows = self.connect().execute("SELECT name, pk FROM pragma_table_info(?)", (table,))
        return [r[0] for r in sorted((r for r in rows if r[1]), key=lambda r: r[1])]

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
        fast = _row_converter(
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
                        batch = common.columns_to_batch(
                            [_decode_column(by_column[i], c) for i, c in enumerate(wanted)],
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
        self.connect().execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self.connect().execute("COMMIT")

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
        values = [_encode_column(batch.column(batch.schema.get_field_index(c))) for c in cols]
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
        self._deferred = self._defer_unique_indexes(table)
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

    def _defer_unique_indexes(self, table: TableInfo) -> list[tuple[str, str]]:
        """Into an empty table, inside the run's transaction: drop its unique indexes created
        by CREATE UNIQUE INDEX (a UNIQUE constraint's own index cannot be dropped) that no
        foreign key relies on, until end_load re-creates them.

        Masked keys arrive in random order; SQLite builds an index from sorted keys far faster
        than it inserts them one by one. The DDL is part of the transaction, so a rollback
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
            if not unique or origin != "c":
                continue
            cols = frozenset(
                str(r[2]).lower()
                for r in conn.execute(f"PRAGMA index_info({self.quote(index)})").fetchall()
                if r[2] is not None
            )
            sql = conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (index,)
            ).fetchone()
            if cols in referenced or not sql or not sql[0]:
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
        )


def _encode(v: Any) -> Any:
    """Values sqlite3 cannot bind natively, in the text forms SQLite's date functions read."""
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    return v


def _decode_value(v: Any, c: ColumnInfo) -> Any:
    """SQLite stores dates, times and decimals as text or numbers; parse one back."""
    if v is not None and isinstance(v, str):
        if c.category is TypeCategory.DATE:
            v = dt.date.fromisoformat(v[:10])
        elif c.category is TypeCategory.DATETIME:
            v = dt.datetime.fromisoformat(v)
        elif c.category is TypeCategory.TIME:
            v = dt.time.fromisoformat(v)
        elif c.category is TypeCategory.BOOLEAN:
            v = v.strip().lower() in ("1", "true", "t", "yes", "y")
    elif (
        c.category is TypeCategory.NUMERIC
        and isinstance(v, float)
        and (c.native_type in ("numeric", "decimal") and c.precision)
    ):
        v = Decimal(repr(v))
    elif c.category is TypeCategory.DATETIME and isinstance(v, (int, float)):
        v = dt.datetime.fromtimestamp(v, dt.timezone.utc).replace(tzinfo=None)
    return v


_NONE = type(None)
_FRACTION = r"\.000000$"
# Python's date/datetime range, which is what the per-value forms can represent.
_MIN_DAY = (dt.date(1, 1, 1) - dt.date(1970, 1, 1)).days
_MAX_DAY = (dt.date(9999, 12, 31) - dt.date(1970, 1, 1)).days
_US_PER_DAY = 86_400_000_000
_MIN_US, _MAX_US = _MIN_DAY * _US_PER_DAY, (_MAX_DAY + 1) * _US_PER_DAY - 1


def _in_range(values: pa.Array, low: int, high: int) -> bool:
    bounds = pc.min_max(values)
    lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
    return lo is None or (lo >= low and hi <= high)


def _encode_column(arr: pa.Array) -> list[Any]:
    """One column in the storage form `_encode` gives each value, computed by Arrow where the
    text renderings are identical (ISO dates and times without a zero fraction, plain decimals)."""
    typ = arr.type
    if pa.types.is_date32(typ) and _in_range(arr.cast(pa.int32()), _MIN_DAY, _MAX_DAY):
        return arr.cast(pa.string()).to_pylist()
    if (
        pa.types.is_timestamp(typ)
        and typ.unit == "us"
        and typ.tz in (None, "UTC")
        and _in_range(arr.cast(pa.int64()), _MIN_US, _MAX_US)
    ):
        if typ.tz is None:
            try:
                # Whole seconds (a lossless cast) print without a fraction, as isoformat does.
                return arr.cast(pa.timestamp("s")).cast(pa.string()).to_pylist()
            except pa.ArrowInvalid:
                pass
        text = arr.cast(pa.string())
        if typ.tz is None:
            return pc.replace_substring_regex(text, _FRACTION, "").to_pylist()
        text = pc.replace_substring_regex(text, r"Z$", "+00:00")
        return pc.replace_substring_regex(text, r"\.000000\+00:00$", "+00:00").to_pylist()
    if pa.types.is_time64(typ) and typ.unit == "us":
        return pc.replace_substring_regex(arr.cast(pa.string()), _FRACTION, "").to_pylist()
    if pa.types.is_decimal128(typ) and 0 <= typ.scale <= 6:
        # str(Decimal) switches to exponent notation only below 1e-6.
        return arr.cast(pa.string()).to_pylist()
    if (
        pa.types.is_integer(typ)
        or pa.types.is_floating(typ)
        or pa.types.is_boolean(typ)
        or pa.types.is_string(typ)
        or pa.types.is_binary(typ)
    ):
        return arr.to_pylist()
    return [_encode(v) for v in arr.to_pylist()]


def _decode_column(values: Sequence[Any], col: ColumnInfo) -> Any:
    """A fetched column, parsed back from SQLite's storage forms (see `_decode_value`): by
    Arrow when every value has the plain form, otherwise value by value."""
    cat = col.category
    decimal = (
        cat is TypeCategory.NUMERIC
        and col.native_type in ("numeric", "decimal")
        and bool(col.precision)
    )
    if (
        cat
        not in (TypeCategory.DATE, TypeCategory.DATETIME, TypeCategory.TIME, TypeCategory.BOOLEAN)
        and not decimal
    ):
        return values
    kinds = set(map(type, values))
    if decimal:
        if float not in kinds:
            return values
    elif cat is TypeCategory.DATETIME:
        if not kinds & {str, int, float, bool}:
            return values
    elif str not in kinds and not (cat is TypeCategory.BOOLEAN and int in kinds):
        return values
    typ = common.arrow_type(col)
    try:
        if cat is TypeCategory.BOOLEAN and kinds <= {int, _NONE}:
            return pc.not_equal(pa.array(values, pa.int64()), 0)
        if kinds <= {str, _NONE} and cat is TypeCategory.DATE:
            text = pc.utf8_slice_codeunits(pa.array(values, pa.string()), 0, 10)
            if pc.all(pc.match_substring_regex(text, _ISO_DATE)).as_py() is not False:
                days = text.cast(pa.date32())
                if _in_range(days.cast(pa.int32()), _MIN_DAY, _MAX_DAY):
                    return days
        elif kinds <= {str, _NONE} and cat is TypeCategory.DATETIME and typ.tz is None:
            text = pa.array(values, pa.string())
            if pc.all(pc.match_substring_regex(text, _ISO_DATETIME)).as_py() is not False:
                stamps = text.cast(typ)
                if _in_range(stamps.cast(pa.int64()), _MIN_US, _MAX_US):
                    return stamps
        elif decimal and kinds <= {int, float, _NONE} and pa.types.is_decimal(typ):
            text = pa.array([v if v is None else repr(v) for v in values], pa.string())
            if pc.all(pc.match_substring_regex(text, _PLAIN_NUMBER)).as_py() is not False:
                return text.cast(typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    return [_decode_value(v, col) for v in values]


# Forms that Arrow and Python's fromisoformat read identically.
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?$"
_PLAIN_NUMBER = r"^-?\d+(\.\d+)?$"


def _row_converter(
    cols: list[ColumnInfo], keys: list[ColumnInfo | None]
) -> common.RowsToArrow | None:
    """Fetched rows to Arrow in one pass (common.RowsToArrow), for columns whose storage form
    is known from the declared type: integers, floats, text, blobs, and dates, datetimes,
    booleans and fixed-point decimals in the forms `_decode_column` reads with Arrow. None when
    a column has no such form; `keys` are the trailing paging columns, None for the rowid."""
    raw = []
    for c in [*cols, *keys]:
        if c is None:
            raw.append(pa.int64())
            continue
        typ = common.arrow_type(c)
        cat = c.category
        if cat is TypeCategory.BOOLEAN:
            raw.append(pa.int64())
        elif cat in (TypeCategory.DATE, TypeCategory.DATETIME):
            if not (
                pa.types.is_date32(typ)
                or (pa.types.is_timestamp(typ) and typ.unit == "us" and typ.tz is None)
            ):
                return None
            raw.append(pa.string())
        elif pa.types.is_decimal(typ):
            if not (
                cat is TypeCategory.NUMERIC
                and c.native_type in ("numeric", "decimal")
                and c.precision
            ):
                return None
            raw.append(pa.float64())
        elif (
            pa.types.is_integer(typ)
            or pa.types.is_floating(typ)
            or pa.types.is_string(typ)
            or pa.types.is_binary(typ)
        ):
            raw.append(typ)
        else:
            return None
    schema = common.arrow_schema(cols)
    return common.RowsToArrow(
        schema, raw, lambda i, arr: _decode_array(arr, cols[i], schema.field(i).type)
    )


def _decode_array(arr: pa.Array, col: ColumnInfo, typ: pa.DataType) -> pa.Array | None:
    """`_decode_column`'s Arrow forms, from the raw array; None when a value has another."""
    try:
        if pa.types.is_boolean(typ):
            return pc.not_equal(arr, 0)
        if pa.types.is_date32(typ):
            text = pc.utf8_slice_codeunits(arr, 0, 10)
            if pc.all(pc.match_substring_regex(text, _ISO_DATE)).as_py() is not False:
                days = text.cast(pa.date32())
                if _in_range(days.cast(pa.int32()), _MIN_DAY, _MAX_DAY):
                    return days
            return None
        if pa.types.is_timestamp(typ):
            if pc.all(pc.match_substring_regex(arr, _ISO_DATETIME)).as_py() is not False:
                stamps = arr.cast(typ)
                if _in_range(stamps.cast(pa.int64()), _MIN_US, _MAX_US):
                    return stamps
            return None
        if pa.types.is_decimal(typ):
            # Arrow and repr() both print a float's shortest round-trip digits.
            text = arr.cast(pa.string())
            if pc.all(pc.match_substring_regex(text, _PLAIN_NUMBER)).as_py() is not False:
                return text.cast(typ)
            return None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return None
