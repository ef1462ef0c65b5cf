"""SQLite values to and from Arrow: SQLite stores any value in any column, so reads decode each
column to its declared type and writes encode Arrow values into what sqlite3 accepts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from masking.dialects import arrowconv
from masking.schema import ColumnInfo, TypeCategory


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


def encode_column(arr: pa.Array) -> list[Any]:
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


def decode_column(values: Sequence[Any], col: ColumnInfo) -> Any:
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
    typ = arrowconv.arrow_type(col)
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


def row_converter(
    cols: list[ColumnInfo], keys: list[ColumnInfo | None]
) -> arrowconv.RowsToArrow | None:
    """Fetched rows to Arrow in one pass (arrowconv.RowsToArrow), for columns whose storage form
    is known from the declared type: integers, floats, text, blobs, and dates, datetimes,
    booleans and fixed-point decimals in the forms `decode_column` reads with Arrow. None when
    a column has no such form; `keys` are the trailing paging columns, None for the rowid."""
    raw = []
    for c in [*cols, *keys]:
        if c is None:
            raw.append(pa.int64())
            continue
        typ = arrowconv.arrow_type(c)
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
    schema = arrowconv.arrow_schema(cols)
    return arrowconv.RowsToArrow(
        schema, raw, lambda i, arr: _decode_array(arr, cols[i], schema.field(i).type)
    )


def _decode_array(arr: pa.Array, col: ColumnInfo, typ: pa.DataType) -> pa.Array | None:
    """`decode_column`'s Arrow forms, from the raw array; None when a value has another."""
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
