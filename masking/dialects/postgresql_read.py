"""PostgreSQL keyset pages: through a cursor (driver values), or as `COPY (SELECT ...) TO
STDOUT` CSV parsed by Arrow for the column types whose CSV text Arrow reads exactly as the driver
would return them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv

from masking.dialects import arrowconv, common
from masking.schema import ColumnInfo, TableInfo, TypeCategory

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
    from psycopg import sql as pgsql  # the driver loads when a connection opens

    keys = [quote(k) for k in table.primary_key]
    conds = [f"({where})"] if where else []
    if last is not None:
        literals = [pgsql.Literal(v).as_string(conn) for v in last]
        if len(keys) == 1:
            conds.append(f"{keys[0]} > {literals[0]}")
        else:
            conds.append(f"({', '.join(keys)}) > ({', '.join(literals)})")
    query = (
        base
        + (" WHERE " + " AND ".join(conds) if conds else "")
        + " ORDER BY "
        + ", ".join(keys)
        + f" LIMIT {int(batch_size)}"
    )
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
