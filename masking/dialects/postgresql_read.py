"""PostgreSQL reads: keyset pages by the fastest path that returns them exactly (binary COPY
parsed in C into Arrow, masking.dialects.postgresql_copy, or where that cannot open the ADBC
driver's, masking.dialects.postgresql_arrow; `COPY (SELECT ...) TO
STDOUT` CSV parsed by Arrow, for the column types whose CSV text Arrow reads exactly as the
driver would return them; a cursor), or one server-side cursor for a table without a key."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pa_csv

from masking.dialects import arrowconv, common, postgresql_arrow
from masking.schema import ColumnInfo, TableInfo, TypeCategory

if TYPE_CHECKING:
    from masking.dialects.postgresql import PostgreSQLDialect

# Types whose COPY CSV text Arrow reads to exactly the values the driver returns. Anything else
# (time zones, times, binary, money, BC or infinite dates) goes through the cursor.
_CSV_STRING_TYPES = frozenset(
    {"character varying", "varchar", "text", "character", "char", "bpchar", "user-defined"}
)
_CSV_NUMERIC_TYPES = frozenset(
    {
        "smallint",
        "integer",
        "bigint",
        "int2",
        "int4",
        "int8",
        "real",
        "double precision",
        "float4",
        "float8",
        "numeric",
        "decimal",
    }
)
_CSV_TEMPORAL_TYPES = frozenset({"date", "timestamp without time zone", "timestamp"})


def readable(col: ColumnInfo) -> bool:
    """Whether this column's values go through COPY CSV and Arrow unchanged."""
    cat = col.category
    if cat in (TypeCategory.OTHER, TypeCategory.UUID):
        return True  # selected as text
    if cat is TypeCategory.STRING:
        return col.native_type in _CSV_STRING_TYPES
    if cat is TypeCategory.NUMERIC:
        return col.native_type in _CSV_NUMERIC_TYPES
    if cat is TypeCategory.BOOLEAN:
        return col.native_type == "boolean"
    if cat in (TypeCategory.DATE, TypeCategory.DATETIME):
        return col.native_type in _CSV_TEMPORAL_TYPES
    return False


def page_sql(
    conn: Any,
    quote: Callable[[str], str],
    base: str,
    table: TableInfo,
    last: list[Any] | None,
    batch_size: int,
    where: str | None,
) -> str:
    """The keyset page after `last` as one statement, the key values as literals."""
    from psycopg import sql as pgsql  # the driver loads when a connection opens

    keys = [quote(k) for k in table.primary_key]
    conds = [f"({where})"] if where else []
    if last is not None:
        literals = [pgsql.Literal(v).as_string(conn) for v in last]
        if len(keys) == 1:
            conds.append(f"{keys[0]} > {literals[0]}")
        else:
            conds.append(f"({', '.join(keys)}) > ({', '.join(literals)})")
    return (
        base
        + (" WHERE " + " AND ".join(conds) if conds else "")
        + " ORDER BY "
        + ", ".join(keys)
        + f" LIMIT {int(batch_size)}"
    )


def read_page(
    conn: Any,
    quote: Callable[[str], str],
    base: str,
    cols: list[ColumnInfo],
    table: TableInfo,
    last: list[Any] | None,
    batch_size: int,
    where: str | None,
) -> pa.RecordBatch | None:
    """One keyset page as `COPY (SELECT ...) TO STDOUT` CSV, parsed by Arrow; None when a
    value has a form Arrow does not read exactly like the driver (then the cursor read is used)."""
    query = page_sql(conn, quote, base, table, last, batch_size, where)
    data = bytearray()
    with conn.cursor() as cur, cur.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)") as copy:
        for block in copy:
            data += block
    schema = arrowconv.arrow_schema(cols)
    if not data:
        return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)
    names = [f"c{i}" for i in range(len(cols))]
    try:
        parsed = pa_csv.read_csv(
            pa.py_buffer(data),
            read_options=pa_csv.ReadOptions(
                column_names=names, block_size=max(1 << 20, len(data) + 1)
            ),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(
                column_types={n: f.type for n, f in zip(names, schema, strict=True)},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                true_values=["t"],
                false_values=["f"],
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    arrays = [parsed.column(i).combine_chunks() for i in range(len(cols))]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def esc(sql: str) -> str:
    """Literal `%` doubled, for statements that carry parameters."""
    return sql.replace("%", "%%")


def cursor_page(
    conn: Any,
    quote: Callable[[str], str],
    base: str,
    table: TableInfo,
    last: list[Any] | None,
    batch_size: int,
    where: str | None,
) -> list[tuple[Any, ...]]:
    """One keyset page through a cursor (driver values)."""
    # Statements here carry parameters, so literal `%` must be doubled first.
    keys = [esc(quote(k)) for k in table.primary_key]
    conds = [f"({esc(where)})"] if where else []
    params: list[Any] = []
    if last is not None:
        conds.append(common.keyset_predicate(keys, "%s", tuples=True))
        params = list(last)
    sql = (
        esc(base)
        + (" WHERE " + " AND ".join(conds) if conds else "")
        + " ORDER BY "
        + ", ".join(keys)
        + " LIMIT %s"
    )
    with conn.cursor() as cur:
        cur.execute(sql, (*params, batch_size))
        return cur.fetchall()


def select_expr(quote: Callable[[str], str], col: ColumnInfo) -> str:
    # Text is the one representation of json/arrays/ranges/intervals that reads back
    # unchanged through COPY into any PostgreSQL column of the same type.
    # uuid as text too: Arrow holds uuids as strings, and UUID objects cost a str() each.
    q = quote(col.name)
    if col.category in (TypeCategory.OTHER, TypeCategory.UUID):
        return f"{q}::text"
    return q


def read_batches(
    d: PostgreSQLDialect,
    table: TableInfo,
    columns: Sequence[str],
    batch_size: int,
    where: str | None,
) -> Iterator[pa.RecordBatch]:
    wanted, extra = common.select_list(table, columns)
    select = [select_expr(d.quote, c) for c in wanted] + [d.quote(k) for k in extra]
    source = d.qualified(table.schema, table.name)
    base = f"SELECT {', '.join(select)} FROM {source}"
    if not table.primary_key:
        yield from _read_unordered(d, base, wanted, batch_size, where)
        return
    key_idx = [
        len(wanted) + extra.index(k) if k in extra else list(columns).index(k)
        for k in table.primary_key
    ]
    read_cols = wanted + [c for c in (table.column(k) for k in extra) if c is not None]
    # Paths, fastest first. A page one cannot return exactly is read again by the next, which
    # then reads the rest of the table.
    fast = len(read_cols) == len(select) and all(readable(c) for c in read_cols) and d._utf8()
    pages = d.arrow_pages() if fast else None
    exprs = [postgresql_arrow.select_expr(d.quote(c.name), c) for c in read_cols]
    arrow_base = f"SELECT {', '.join(exprs)} FROM {source}"
    last: list[Any] | None = None
    while True:
        conn = d.connect()
        args = (table, last, batch_size, where)
        batch = None
        if pages is not None:
            batch = pages.read(page_sql(conn, d.quote, arrow_base, *args), read_cols)
            pages = pages if batch is not None else None
        if batch is None and fast:
            batch = read_page(conn, d.quote, base, read_cols, *args)
            fast = batch is not None
        if batch is None:
            rows = cursor_page(conn, d.quote, base, *args)
            if not rows:
                return
            count = len(rows)
            last = [rows[-1][i] for i in key_idx]
            yield arrowconv.rows_to_batch(rows, wanted)
        else:
            count = batch.num_rows
            if not count:
                return
            last = [batch.column(i)[count - 1].as_py() for i in key_idx]
            yield batch.select(range(len(wanted)))
        if count < batch_size:
            return


def _read_unordered(
    d: PostgreSQLDialect, base: str, wanted: list[ColumnInfo], batch_size: int, where: str | None
) -> Iterator[pa.RecordBatch]:
    """No primary key: one server-side cursor (one snapshot, each row exactly once)."""
    sql = base + (f" WHERE ({where})" if where else "")
    conn = d.connect()
    with conn.transaction(), conn.cursor(name="maskflow_scan") as cur:
        cur.itersize = batch_size
        cur.execute(sql)
        while rows := cur.fetchmany(batch_size):
            yield arrowconv.rows_to_batch(rows, wanted)
