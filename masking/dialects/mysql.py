"""MySQL and MariaDB through mysqlclient (MySQLdb). The configured database is the one schema.

Options: `ssl_mode` (DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY) and `ssl`
({"ca", "cert", "key"} file paths). The session time zone is UTC, so TIMESTAMP columns read and
write UTC wall-clock values."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from masking.dberrors import connection_failed, database_error
from masking.dialects import common, ddl
from masking.dialects.base import Capabilities, Dialect, TestResult
from masking.dialects.typemaps import MYSQL_TYPES
from masking.errors import ConnectionFailed
from masking.schema import (
    ColumnInfo,
    ForeignKey,
    TableInfo,
    TableSummary,
    TypeCategory,
    UniqueConstraint,
)

_ERRNO_CATEGORY = {
    1045: "login_failed",
    1698: "login_failed",
    1044: "permission_denied",
    1142: "permission_denied",
    1049: "database_not_found",
    2002: "unreachable",
    2003: "unreachable",
    2005: "unreachable",
    2013: "unreachable",
    2026: "tls",
    2059: "driver_missing",
}
_UNBOUNDED = {"longtext", "longblob", "json"}
# Rows per INSERT also stay well under max_allowed_packet for ordinary rows.
MAX_ROWS_PER_INSERT = 1000

_COLUMNS = """
SELECT column_name, lower(data_type), lower(column_type), is_nullable = 'YES',
       character_maximum_length, numeric_precision, numeric_scale, column_default,
       lower(extra), ordinal_position
FROM information_schema.columns
WHERE table_schema = %s AND table_name = %s
ORDER BY ordinal_position
"""


class MySQLDialect(Dialect):
    name = "mysql"
    capabilities = Capabilities(
        sqlglot_dialect="mysql",
        quote_open="`",
        quote_close="`",
        supports_schemas=True,
        default_schema="",
        max_params_per_statement=65535,
        truncate_is_transactional=False,
        max_identifier_length=64,
    )
    type_map = MYSQL_TYPES
    _escapes_for: tuple[Any, bool] | None = None  # (connection, backslash escapes on)

    # --- connection ---------------------------------------------------------------------------
    def _open(self) -> Any:
        try:
            import MySQLdb
        except ImportError as exc:
            raise ConnectionFailed("driver_missing", "mysqlclient is not installed") from exc
        p = self.params
        kwargs: dict[str, Any] = {
            "host": p.host or "127.0.0.1",
            "port": int(p.port or 3306),
            "user": p.username,
            "password": p.password,
            "database": p.database,
            "charset": "utf8mb4",
            "connect_timeout": max(1, int(p.timeout)),
            "autocommit": True,
        }
        # ssl_mode: DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY;
        # ssl: {"ca": ..., "cert": ..., "key": ...} file paths.
        if p.options.get("ssl_mode"):
            kwargs["ssl_mode"] = str(p.options["ssl_mode"]).upper()
        if isinstance(p.options.get("ssl"), dict):
            kwargs["ssl"] = p.options["ssl"]
        try:
            conn = MySQLdb.connect(**kwargs)
        except MySQLdb.Error as exc:
            code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
            raw = str(exc.args[1] if len(exc.args) > 1 else exc)
            category = (_ERRNO_CATEGORY.get(code) if code is not None else None) or common.classify(
                raw
            )
            raise connection_failed(category) from exc
        cur = conn.cursor()
        # TIMESTAMP columns are converted through the session time zone: pin it to UTC.
        cur.execute("SET time_zone = '+00:00'")
        cur.close()
        return conn

    def connect(self) -> Any:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def test(self) -> TestResult:
        def probe(conn: Any) -> str:
            cur = conn.cursor()
            cur.execute("SELECT version()")
            version = str(cur.fetchone()[0])
            cur.close()
            return ("MariaDB " if "mariadb" in version.lower() else "MySQL ") + version

        return TestResult(*common.timed_test(self.connect, probe, [self.params.password]))

    def _rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        cur = self.connect().cursor()
        try:
            cur.execute(sql, params)
            return list(cur.fetchall())
        finally:
            cur.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._rows(sql, params or None)

    def qualified(self, schema: str, table: str) -> str:
        return f"{self.quote(schema or self.params.database)}.{self.quote(table)}"

    # --- introspection ------------------------------------------------------------------------
    def list_schemas(self) -> list[str]:
        return [self.params.database]

    def list_tables(self, schema: str) -> list[TableSummary]:
        rows = self._rows(
            "SELECT table_name, table_rows, table_type FROM information_schema.tables "
            "WHERE table_schema = %s ORDER BY table_name",
            (schema or self.params.database,),
        )
        # Sorted here: the server's order depends on the catalog collation.
        return [
            TableSummary(
                schema,
                name,
                None if est is None else int(est),
                "view" if "VIEW" in kind else "table",
            )
            for name, est, kind in sorted(rows, key=lambda r: r[0])
        ]

    def describe_table(self, schema: str, table: str) -> TableInfo:
        schema = schema or self.params.database
        found = self._rows(
            "SELECT table_rows FROM information_schema.tables "
            "WHERE table_schema = %s AND table_name = %s",
            (schema, table),
        )
        if not found:
            raise common.not_found(schema, table)
        keys: dict[str, list[str]] = {}
        for index, col in self._rows(
            "SELECT index_name, column_name FROM information_schema.statistics "
            "WHERE table_schema = %s AND table_name = %s AND non_unique = 0 "
            "AND column_name IS NOT NULL ORDER BY index_name, seq_in_index",
            (schema, table),
        ):
            keys.setdefault(index, []).append(col)
        primary_key = tuple(keys.pop("PRIMARY", ()))
        uniques = tuple(UniqueConstraint(n, tuple(c)) for n, c in sorted(keys.items()))
        fks: dict[str, list[Any]] = {}
        for name, col, ref_schema, ref_table, ref_col in self._rows(
            "SELECT constraint_name, column_name, referenced_table_schema, "
            "referenced_table_name, referenced_column_name "
            "FROM information_schema.key_column_usage "
            "WHERE table_schema = %s AND table_name = %s AND referenced_table_name IS NOT NULL "
            "ORDER BY constraint_name, ordinal_position",
            (schema, table),
        ):
            fks.setdefault(name, []).append((col, ref_schema, ref_table, ref_col))
        foreign_keys = tuple(
            ForeignKey(
                n, tuple(p[0] for p in parts), parts[0][1], parts[0][2], tuple(p[3] for p in parts)
            )
            for n, parts in sorted(fks.items())
        )
        json_cols = self._json_columns(schema, table)
        columns = tuple(
            self._column(r, primary_key, json_cols) for r in self._rows(_COLUMNS, (schema, table))
        )
        est = found[0][0]
        return TableInfo(
            schema,
            table,
            columns,
            primary_key,
            foreign_keys,
            uniques,
            None if est is None else int(est),
        )

    def _json_columns(self, schema: str, table: str) -> set[str]:
        """MariaDB's JSON is LONGTEXT plus a json_valid() check; recover the intent."""
        try:
            rows = self._rows(
                "SELECT check_clause FROM information_schema.check_constraints "
                "WHERE constraint_schema = %s AND table_name = %s",
                (schema, table),
            )
        except Exception:  # noqa: BLE001 - MySQL 5.7 has no such view
            return set()
        found = set()
        for (clause,) in rows:
            m = re.fullmatch(r"\s*json_valid\(`((?:[^`]|``)+)`\)\s*", clause or "", re.I)
            if m:
                found.add(m.group(1).replace("``", "`"))
        return found

    def _column(
        self, r: tuple[Any, ...], primary_key: tuple[str, ...], json_cols: set[str]
    ) -> ColumnInfo:
        (
            name,
            data_type,
            column_type,
            nullable,
            char_len,
            num_prec,
            num_scale,
            default,
            extra,
            ordinal,
        ) = r
        native = data_type
        if column_type.startswith("tinyint(1)") and "unsigned" not in column_type:
            native = "tinyint(1)"
        elif column_type == "bit(1)":
            native = "bit(1)"
        elif "unsigned" in column_type and data_type in (
            "tinyint",
            "smallint",
            "mediumint",
            "int",
            "integer",
            "bigint",
        ):
            native = f"{data_type} unsigned"
        if name in json_cols:
            native = "json"
        category = MYSQL_TYPES.get(native, TypeCategory.OTHER)
        max_length = None
        if category in (TypeCategory.STRING, TypeCategory.BINARY) and native not in _UNBOUNDED:
            max_length = int(char_len) if char_len is not None else None
        if native == "bit":
            max_length = int(num_prec) if num_prec is not None else None  # width in bits
        is_decimal = native in ("decimal", "numeric")
        if isinstance(default, str) and default.upper() == "NULL":
            default = None  # MariaDB reports "no default" as the text NULL
        return ColumnInfo(
            name=name,
            native_type=native,
            category=category,
            nullable=bool(nullable),
            max_length=max_length,
            precision=int(num_prec) if is_decimal else None,
            scale=int(num_scale) if is_decimal else None,
            default=default,
            is_identity="auto_increment" in extra,
            is_primary_key=name in primary_key,
            is_computed="generated" in extra and "default_generated" not in extra,
            ordinal=int(ordinal),
        )

    # --- reading ------------------------------------------------------------------------------
    def count_rows(self, table: TableInfo, where: str | None = None) -> int:
        sql = f"SELECT count(*) FROM {self.qualified(table.schema, table.name)}"
        if where:
            sql += f" WHERE ({where})"
        return int(self._rows(sql)[0][0])

    def read_batches(
        self, table: TableInfo, columns: Sequence[str], batch_size: int, where: str | None = None
    ) -> Iterator[pa.RecordBatch]:
        wanted, extra = common.select_list(table, columns)
        select = [self.quote(c.name) for c in wanted] + [self.quote(k) for k in extra]
        base = f"SELECT {', '.join(select)} FROM {self.qualified(table.schema, table.name)}"
        if not table.primary_key:
            yield from self._read_streaming(base, wanted, batch_size, where)
            return
        # Dates, datetimes and decimals are read as their text and parsed by Arrow; a page
        # holding any other form (zero dates, out-of-range years, more digits than Arrow's
        # decimal holds) is read again with driver conversion.
        text_idx = [i for i, c in enumerate(wanted) if _text_temporal(c) or _text_decimal(c)]
        text_select = [f"CAST({s} AS CHAR)" if i in text_idx else s for i, s in enumerate(select)]
        text_base = (
            f"SELECT {', '.join(text_select)} FROM {self.qualified(table.schema, table.name)}"
        )
        key_idx = [
            len(wanted) + extra.index(k) if k in extra else list(columns).index(k)
            for k in table.primary_key
        ]
        fast = bool(text_idx)
        one_pass: common.RowsToArrow | None = _row_converter(
            wanted, [c for c in (table.column(k) for k in extra) if c is not None], text_idx
        )
        plain_pass: common.RowsToArrow | None = _row_converter(
            wanted, [c for c in (table.column(k) for k in extra) if c is not None], []
        )
        last: list[Any] | None = None
        while True:
            batch = None
            if fast:
                rows = self._keyset_page(text_base, table, last, batch_size, where)
                if one_pass is not None and rows:
                    batch = one_pass.batch(rows)
                    if batch is None:
                        one_pass = None
                if batch is None:
                    batch = _text_batch(rows, wanted, text_idx)
                fast = batch is not None
            if batch is None:
                rows = self._keyset_page(base, table, last, batch_size, where)
                batch = plain_pass.batch(rows) if plain_pass is not None and rows else None
                if batch is None:
                    plain_pass = None
                    batch = common.rows_to_batch(rows, wanted) if rows else None
            if not rows or batch is None:
                return
            # Text-read keys take their parsed value (what the driver would have returned).
            last = [
                batch.column(i)[len(rows) - 1].as_py() if fast and i in text_idx else rows[-1][i]
                for i in key_idx
            ]
            yield batch
            if len(rows) < batch_size:
                return

    def _keyset_page(
        self,
        base: str,
        table: TableInfo,
        last: list[Any] | None,
        batch_size: int,
        where: str | None,
    ) -> list[tuple[Any, ...]]:
        # MySQLdb interpolates with %, so literal % in identifiers/predicates is doubled.
        keys = [self.quote(k).replace("%", "%%") for k in table.primary_key]
        conds = [f"({where.replace('%', '%%')})"] if where else []
        params: list[Any] = []
        if last is not None:
            conds.append(common.keyset_predicate(keys, "%s", tuples=True))
            params = list(last)
        sql = (
            base.replace("%", "%%")
            + (" WHERE " + " AND ".join(conds) if conds else "")
            + " ORDER BY "
            + ", ".join(keys)
            + " LIMIT %s"
        )
        return self._rows(sql, (*params, batch_size))

    def _read_streaming(
        self, base: str, wanted: list[ColumnInfo], batch_size: int, where: str | None
    ) -> Iterator[pa.RecordBatch]:
        """No primary key: an unbuffered (SSCursor) scan on its own connection, because an
        unfinished streaming result blocks every other statement on its connection."""
        import MySQLdb.cursors

        conn = self._open()
        try:
            cur = conn.cursor(MySQLdb.cursors.SSCursor)
            cur.execute(base + (f" WHERE ({where})" if where else ""))
            while rows := cur.fetchmany(batch_size):
                yield common.rows_to_batch(rows, wanted)
            cur.close()
        finally:
            conn.close()

    # --- writing ------------------------------------------------------------------------------
    def _begin(self) -> None:
        self._rows("START TRANSACTION")

    def _commit(self) -> None:
        self.connect().commit()

    def _rollback(self) -> None:
        self.connect().rollback()

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
        import MySQLdb

        n = batch.num_rows
        per_stmt = max(
            1, min(MAX_ROWS_PER_INSERT, self.capabilities.max_params_per_statement // len(cols))
        )
        head = (
            f"INSERT INTO {self.qualified(table.schema, table.name)} "
            f"({', '.join(self.quote(c) for c in cols)}) VALUES "
        )
        rows = _row_literals(
            [batch.column(batch.schema.get_field_index(c)) for c in cols],
            backslash_escapes=self._backslash_escapes(),
        )
        cur = self.connect().cursor()
        try:
            if rows is not None:
                # Rendered by Arrow: the driver's per-value quoting cost more than the insert.
                for start in range(0, n, per_stmt):
                    cur.execute(head + ", ".join(rows[start : min(start + per_stmt, n)]))
            else:
                values = [
                    _encode_column(batch.column(batch.schema.get_field_index(c))) for c in cols
                ]
                one = "(" + ", ".join("%s" for _ in cols) + ")"
                for start in range(0, n, per_stmt):
                    stop = min(start + per_stmt, n)
                    cur.execute(
                        head.replace("%", "%%") + ", ".join(one for _ in range(stop - start)),
                        list(
                            chain.from_iterable(zip(*(v[start:stop] for v in values), strict=True))
                        ),
                    )
        except MySQLdb.Error as exc:
            raise database_error(
                exc,
                table=f"{table.schema}.{table.name}",
                stage="write",
                columns=[c.name for c in table.columns],
            ) from exc
        finally:
            cur.close()
        return n

    def _backslash_escapes(self) -> bool:
        """Whether string literals treat a backslash as an escape (the session's sql_mode
        lacks NO_BACKSLASH_ESCAPES). Read once per connection."""
        conn = self.connect()
        known = self._escapes_for
        if known is None or known[0] is not conn:
            mode = str(self._rows("SELECT @@SESSION.sql_mode")[0][0]).upper().split(",")
            known = self._escapes_for = (conn, "NO_BACKSLASH_ESCAPES" not in mode)
        return known[1]

    def clear_table(self, table: TableInfo) -> None:
        # TRUNCATE would commit the surrounding transaction implicitly.
        self.execute(f"DELETE FROM {self.qualified(table.schema, table.name)}")

    def begin_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        self._abort_writer()  # a load left open by a caller that never ended it
        # An explicit 0 in an AUTO_INCREMENT column would otherwise draw a new value.
        mode = str(self._rows("SELECT @@SESSION.sql_mode")[0][0])
        if "NO_AUTO_VALUE_ON_ZERO" not in mode.split(","):
            self.execute(
                "SET SESSION sql_mode = %s",
                (",".join(m for m in (mode, "NO_AUTO_VALUE_ON_ZERO") if m),),
            )
        if cols := common.insertable(table, columns):
            # mysqlclient releases the GIL while the server runs a statement: inserting batch
            # N in a thread overlaps with reading and masking batch N+1.
            self._start_writer(table, columns, lambda batch: self._insert(table, cols, batch))

    def end_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        self._finish_writer()

    def abort_load(self, table: TableInfo, columns: Sequence[str]) -> None:
        self._abort_writer()

    # --- staged runs ------------------------------------------------------------------------
    # InnoDB exports no snapshot to other sessions: each unit reads in a consistent-snapshot
    # transaction of its own, so units of one table may see different moments of the source.
    read_consistency = "unit"

    @contextmanager
    def snapshot_reads(self, token: str | None) -> Iterator[None]:
        self.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        try:
            yield
        finally:
            if self._conn is not None:
                self.execute("ROLLBACK")

    def create_table_sql(
        self,
        table: TableInfo,
        target_schema: str,
        target_name: str,
        *,
        source_dialect: str | None = None,
    ) -> str:
        return (
            ddl.create_table_sql(
                table,
                target_schema,
                target_name,
                source_dialect=source_dialect,
                target_dialect="mysql",
                qualified=self.qualified,
                quote=self.quote,
                identity_clause=lambda c: "AUTO_INCREMENT",
            )
            + " DEFAULT CHARSET=utf8mb4"
        )


def _encode_column(arr: pa.Array) -> list[Any]:
    """One column as Python values to bind. Time-zone-aware timestamps become naive UTC, which
    is what the server expects in the UTC session (Arrow stores them as UTC already, so
    dropping the zone keeps the UTC wall-clock time)."""
    if pa.types.is_timestamp(arr.type) and arr.type.tz is not None:
        arr = arr.cast(pa.timestamp(arr.type.unit))
    return arr.to_pylist()


def _row_literals(arrays: Sequence[pa.Array], *, backslash_escapes: bool) -> list[str] | None:
    """Each row as its SQL VALUES tuple text, e.g. `(1, 'O''Hara', NULL)`, rendered by Arrow;
    None when a column has a type (or value, such as a non-finite float or a year Arrow prints
    differently) this does not render, and the driver quotes the batch value by value."""
    parts = []
    for arr in arrays:
        text = _literal_column(arr, backslash_escapes)
        if text is None:
            return None
        parts.append(text)
    if not parts:
        return None
    joined = pc.binary_join_element_wise(*parts, ", ") if len(parts) > 1 else parts[0]
    return pc.binary_join_element_wise("(", joined, ")", "").to_pylist()


def _literal_column(arr: pa.Array, backslash_escapes: bool) -> pa.Array | None:
    typ = arr.type
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    quoted = False
    if pa.types.is_integer(typ):
        text = arr.cast(pa.string())
    elif pa.types.is_floating(typ):
        values = arr.cast(pa.float64())  # as the driver binds them: widened to double
        if pc.all(pc.is_finite(values)).as_py() is False:
            return None
        text = values.cast(pa.string())
    elif pa.types.is_boolean(typ):
        text = arr.cast(pa.int8()).cast(pa.string())
    elif pa.types.is_decimal(typ):
        # Plain notation only: Arrow switches to an exponent below 1e-6.
        if not 0 <= typ.scale <= 6:
            return None
        text = arr.cast(pa.string())
    elif pa.types.is_string(typ) or pa.types.is_large_string(typ):
        text = arr.cast(pa.string())
        if backslash_escapes:
            text = pc.replace_substring(text, "\\", "\\\\")
        text = pc.replace_substring(text, "'", "''")
        quoted = True
    elif pa.types.is_date32(typ):
        if not _years_printable(arr.cast(pa.int32()), 86_400):
            return None
        text, quoted = arr.cast(pa.string()), True
    elif pa.types.is_timestamp(typ) and typ.unit == "us":
        naive = arr.cast(pa.timestamp("us"))  # zone-aware: UTC wall time (see _encode_column)
        if not _years_printable(naive.cast(pa.int64()), 1 / 1_000_000):
            return None
        text, quoted = naive.cast(pa.string()), True
    elif pa.types.is_time64(typ) and typ.unit == "us":
        text, quoted = arr.cast(pa.string()), True
    else:
        return None
    if quoted:
        text = pc.binary_join_element_wise("'", text, "'", "")
    return pc.fill_null(text, "NULL")


# Seconds from 1970-01-01 to 0001-01-01 and to 10000-01-01: Arrow prints four-digit years only.
_FIRST_YEAR_S, _YEAR_10000_S = -62_135_596_800, 253_402_300_800


def _years_printable(values: pa.Array, seconds_per_unit: float) -> bool:
    bounds = pc.min_max(values)
    lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
    return lo is None or (
        lo * seconds_per_unit >= _FIRST_YEAR_S and hi * seconds_per_unit < _YEAR_10000_S
    )


def _text_temporal(col: ColumnInfo) -> bool:
    return (col.category is TypeCategory.DATE and col.native_type == "date") or (
        col.category is TypeCategory.DATETIME and col.native_type in ("datetime", "timestamp")
    )


def _text_decimal(col: ColumnInfo) -> bool:
    # Only where Arrow's decimal holds every value the column can: Arrow's text cast wraps
    # around silently beyond 38 digits.
    return (
        col.category is TypeCategory.NUMERIC
        and col.native_type in ("decimal", "numeric")
        and col.precision is not None
        and col.precision <= 38
        and pa.types.is_decimal(common.arrow_type(col))
    )


def _parse_text(arr: pa.Array, typ: pa.DataType) -> pa.Array | None:
    """A text column read for `typ`: ISO dates/datetimes, or plain decimals that fit exactly
    (the server prints them with the column's scale); None for anything else."""
    if not pa.types.is_decimal(typ):
        return common.parse_iso_array(arr, typ)
    try:
        return arr.cast(typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None


def _text_batch(
    rows: list[tuple[Any, ...]], cols: list[ColumnInfo], text_idx: list[int]
) -> pa.RecordBatch | None:
    """A page whose date, datetime and decimal columns arrived as text; None if any does not
    parse exactly."""
    if not rows:
        return common.rows_to_batch(rows, cols)
    columns: list[Any] = list(zip(*rows, strict=True))[: len(cols)]
    for i in text_idx:
        typ = common.arrow_type(cols[i])
        if not set(map(type, columns[i])) <= {str, type(None)}:
            return None
        parsed = _parse_text(pa.array(columns[i], pa.string()), typ)
        if parsed is None:
            return None
        columns[i] = parsed
    return common.columns_to_batch(columns, cols)


def _row_converter(
    cols: list[ColumnInfo], keys: list[ColumnInfo], text_idx: list[int]
) -> common.RowsToArrow:
    """Fetched rows to Arrow in one pass (common.RowsToArrow): each column as
    `pa.array(values, type)` would give it, 0/1 booleans by truthiness, and the columns read
    as text (dates, datetimes, decimals; `text_idx`) parsed by Arrow. Trailing paging keys
    (primary-key columns not asked for) are converted, then dropped."""
    raw = []
    for i, typ in enumerate(common.arrow_type(c) for c in [*cols, *keys]):
        if i in text_idx:
            raw.append(pa.string())
        elif pa.types.is_boolean(typ):
            raw.append(pa.int64())
        else:
            raw.append(typ)
    schema = common.arrow_schema(cols)

    def fix(i: int, arr: pa.Array) -> pa.Array | None:
        if i in text_idx:
            return _parse_text(arr, schema.field(i).type)
        return pc.not_equal(arr, 0)  # 0/1 into a boolean

    return common.RowsToArrow(schema, raw, fix)
