"""MySQL/MariaDB values to and from Arrow: rows rendered as SQL literals for multi-row INSERT,
values bound as parameters, and text-protocol reads of temporal and decimal columns parsed by
Arrow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from masking.dialects import arrowconv
from masking.schema import ColumnInfo, TypeCategory


def encode_column(arr: pa.Array) -> list[Any]:
    """One column as Python values to bind. Time-zone-aware timestamps become naive UTC, which
    is what the server expects in the UTC session (Arrow stores them as UTC already, so
    dropping the zone keeps the UTC wall-clock time)."""
    if pa.types.is_timestamp(arr.type) and arr.type.tz is not None:
        arr = arr.cast(pa.timestamp(arr.type.unit))
    return arr.to_pylist()


def row_literals(arrays: Sequence[pa.Array], *, backslash_escapes: bool) -> list[str] | None:
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
        naive = arr.cast(pa.timestamp("us"))  # zone-aware: UTC wall time (see encode_column)
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


def text_temporal(col: ColumnInfo) -> bool:
    return (col.category is TypeCategory.DATE and col.native_type == "date") or (
        col.category is TypeCategory.DATETIME and col.native_type in ("datetime", "timestamp")
    )


def text_decimal(col: ColumnInfo) -> bool:
    # Only where Arrow's decimal holds every value the column can: Arrow's text cast wraps
    # around silently beyond 38 digits.
    return (
        col.category is TypeCategory.NUMERIC
        and col.native_type in ("decimal", "numeric")
        and col.precision is not None
        and col.precision <= 38
        and pa.types.is_decimal(arrowconv.arrow_type(col))
    )


def _parse_text(arr: pa.Array, typ: pa.DataType) -> pa.Array | None:
    """A text column read for `typ`: ISO dates/datetimes, or plain decimals that fit exactly
    (the server prints them with the column's scale); None for anything else."""
    if not pa.types.is_decimal(typ):
        return arrowconv.parse_iso_array(arr, typ)
    try:
        return arr.cast(typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None


def text_batch(
    rows: list[tuple[Any, ...]], cols: list[ColumnInfo], text_idx: list[int]
) -> pa.RecordBatch | None:
    """A page whose date, datetime and decimal columns arrived as text; None if any does not
    parse exactly."""
    if not rows:
        return arrowconv.rows_to_batch(rows, cols)
    columns: list[Any] = list(zip(*rows, strict=True))[: len(cols)]
    for i in text_idx:
        typ = arrowconv.arrow_type(cols[i])
        if not set(map(type, columns[i])) <= {str, type(None)}:
            return None
        parsed = _parse_text(pa.array(columns[i], pa.string()), typ)
        if parsed is None:
            return None
        columns[i] = parsed
    return arrowconv.columns_to_batch(columns, cols)


def row_converter(
    cols: list[ColumnInfo], keys: list[ColumnInfo], text_idx: list[int]
) -> arrowconv.RowsToArrow:
    """Fetched rows to Arrow in one pass (arrowconv.RowsToArrow): each column as
    `pa.array(values, type)` would give it, 0/1 booleans by truthiness, and the columns read
    as text (dates, datetimes, decimals; `text_idx`) parsed by Arrow. Trailing paging keys
    (primary-key columns not asked for) are converted, then dropped."""
    raw = []
    for i, typ in enumerate(arrowconv.arrow_type(c) for c in [*cols, *keys]):
        if i in text_idx:
            raw.append(pa.string())
        elif pa.types.is_boolean(typ):
            raw.append(pa.int64())
        else:
            raw.append(typ)
    schema = arrowconv.arrow_schema(cols)

    def fix(i: int, arr: pa.Array) -> pa.Array | None:
        if i in text_idx:
            return _parse_text(arr, schema.field(i).type)
        return pc.not_equal(arr, 0)  # 0/1 into a boolean

    return arrowconv.RowsToArrow(schema, raw, fix)
