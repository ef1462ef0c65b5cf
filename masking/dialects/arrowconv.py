"""Driver values to Arrow and back, shared by every dialect: the Arrow type of each column
category, converters for the values drivers return, ISO text dates parsed in bulk, and
RowsToArrow, which builds a batch from fetched rows in one pass."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from operator import itemgetter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from masking.errors import TerminalError
from masking.schema import ColumnInfo, TypeCategory

INTEGER_TYPES = frozenset(
    {
        "tinyint",
        "smallint",
        "mediumint",
        "int",
        "integer",
        "bigint",
        "int2",
        "int4",
        "int8",
        "serial",
        "smallserial",
        "bigserial",
        "serial2",
        "serial4",
        "serial8",
        "year",
        "oid",
        "tinyint unsigned",
        "smallint unsigned",
        "mediumint unsigned",
        "int unsigned",
        "integer unsigned",
        "bigint unsigned",
        "unsigned big int",
        "tinyint(1)",
    }
)
FLOAT_TYPES = frozenset(
    {
        "real",
        "float",
        "double",
        "double precision",
        "float4",
        "float8",
        "double unsigned",
        "float unsigned",
        "smallmoney_float",
    }
)
TZ_TYPES = frozenset({"timestamp with time zone", "timestamptz", "datetimeoffset"})
# Unbounded decimals (PostgreSQL `numeric` without typmod) need some fixed Arrow type.
DEFAULT_DECIMAL = (38, 10)


def _base(native: str) -> str:
    return native.lower().split("(")[0].strip()


def arrow_type(col: ColumnInfo) -> pa.DataType:
    cat = col.category
    base = _base(col.native_type)
    if cat is TypeCategory.STRING or cat is TypeCategory.UUID or cat is TypeCategory.OTHER:
        return pa.string()
    if cat is TypeCategory.NUMERIC:
        if base in INTEGER_TYPES:
            return pa.uint64() if base == "bigint unsigned" else pa.int64()
        if base in FLOAT_TYPES:
            return pa.float64()
        if base in {"money", "smallmoney"}:
            return pa.decimal128(19, 4)
        if col.precision:
            scale = col.scale or 0
            return pa.decimal128(min(col.precision, 38), scale)
        return pa.decimal128(*DEFAULT_DECIMAL)
    if cat is TypeCategory.BOOLEAN:
        return pa.bool_()
    if cat is TypeCategory.DATE:
        return pa.date32()
    if cat is TypeCategory.DATETIME:
        return pa.timestamp("us", tz="UTC") if base in TZ_TYPES else pa.timestamp("us")
    if cat is TypeCategory.TIME:
        return pa.time64("us")
    if cat is TypeCategory.BINARY:
        return pa.binary()
    return pa.string()


def arrow_schema(cols: Sequence[ColumnInfo]) -> pa.Schema:
    return pa.schema([pa.field(c.name, arrow_type(c), nullable=True) for c in cols])


def _to_text(v: Any) -> Any:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False, separators=(", ", ": "))
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).decode("utf-8", "replace")
    return str(v)


def _to_bool(v: Any) -> Any:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, (bytes, bytearray)):
        return int.from_bytes(v, "big") != 0
    return bool(v)


def _to_time(v: Any) -> Any:
    if isinstance(v, dt.timedelta):
        # MySQL TIME comes back as a timedelta (it may exceed a day or be negative).
        us = int(v.total_seconds() * 1_000_000)
        if not 0 <= us < 86_400_000_000:
            raise TerminalError("a TIME value outside 00:00–24:00 cannot be represented")
        return (dt.datetime.min + dt.timedelta(microseconds=us)).time()
    if isinstance(v, dt.time) and v.tzinfo is not None:
        return v.replace(tzinfo=None)
    return v


def _to_datetime_utc(v: Any) -> Any:
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        return v.astimezone(dt.timezone.utc)
    return v


def _to_decimal(v: Any) -> Any:
    if v is None or isinstance(v, Decimal):
        return v
    return Decimal(str(v))


def _converter(col: ColumnInfo, typ: pa.DataType) -> Callable[[Any], Any] | None:
    if pa.types.is_string(typ):
        if col.category is TypeCategory.UUID:
            return lambda v: str(v) if isinstance(v, uuid.UUID) else _to_text(v)
        return _to_text
    if pa.types.is_boolean(typ):
        return _to_bool
    if pa.types.is_time(typ):
        return lambda v: None if v is None else _to_time(v)
    if pa.types.is_timestamp(typ) and typ.tz is not None:
        return _to_datetime_utc
    if pa.types.is_decimal(typ):
        return _to_decimal
    if pa.types.is_binary(typ):
        return lambda v: bytes(v) if isinstance(v, (bytearray, memoryview)) else v
    if pa.types.is_integer(typ):
        return _to_int
    if pa.types.is_floating(typ):
        return lambda v: None if v is None else float(v)
    return None


def _convert(values: list[Any], col: ColumnInfo, typ: pa.DataType) -> list[Any]:
    conv = _converter(col, typ)
    if conv is not None:
        values = [None if v is None else conv(v) for v in values]
    if pa.types.is_decimal(typ):
        # More digits than the column's scale (floats from SQLite, unbounded numerics).
        step = Decimal(1).scaleb(-typ.scale)
        values = [None if v is None else v.quantize(step) for v in values]
    return values


def _to_int(v: Any) -> int:
    if isinstance(v, float) and not v.is_integer():
        raise ValueError("fractional value in an integer column")
    return int(v)


def rows_to_batch(rows: Sequence[Sequence[Any]], cols: Sequence[ColumnInfo]) -> pa.RecordBatch:
    """Build a RecordBatch column by column with explicit types (no inference)."""
    if rows:
        # Rows may carry trailing paging-key columns beyond `cols`.
        columns: list[Any] = list(zip(*rows, strict=False))[: len(cols)]
    else:
        columns = [[] for _ in cols]
    return columns_to_batch(columns, cols)


def columns_to_batch(columns: Sequence[Any], cols: Sequence[ColumnInfo]) -> pa.RecordBatch:
    """A RecordBatch from one entry per column: a ready Arrow array of the column's type, or a
    sequence of driver values (converted with explicit types, no inference)."""
    schema = arrow_schema(cols)
    arrays = []
    for values, col, fld in zip(columns, cols, schema, strict=True):
        if isinstance(values, pa.Array) and values.type == fld.type:
            arrays.append(values)
        else:
            arrays.append(column_array(values, col, fld.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def column_array(values: Sequence[Any], col: ColumnInfo, typ: pa.DataType) -> pa.Array:
    """One column of driver values as an Arrow array of `typ`."""
    if not isinstance(values, list):
        values = list(values)
    if pa.types.is_boolean(typ):
        kinds = set(map(type, values))
        if int in kinds and kinds <= {int, type(None)}:
            # 0/1 integers (MySQL tinyint(1), SQLite): truthiness, as `_to_bool` gives.
            try:
                return pc.not_equal(pa.array(values, pa.int64()), 0)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                pass
    # pyarrow silently truncates Python floats into integer arrays.
    exact = not (pa.types.is_integer(typ) and float in set(map(type, values)))
    try:
        if not exact:
            raise pa.ArrowInvalid("floats in an integer column")
        # Most driver values convert as they are (pyarrow itself normalises aware
        # datetimes to UTC and rescales decimals losslessly); convert only on refusal.
        return pa.array(values, type=typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    try:
        return pa.array(_convert(values, col, typ), type=typ)
    except TerminalError:
        raise
    except Exception:  # noqa: BLE001 - the driver's message would quote the value
        raise TerminalError(
            f"column '{col.name}': a value cannot be read as {typ} ({col.native_type})"
        ) from None


def batch_rows(batch: pa.RecordBatch, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """Python rows (in `columns` order) from a RecordBatch, for DB-API executemany/COPY."""
    lists = [batch.column(batch.schema.get_field_index(c)).to_pylist() for c in columns]
    return list(zip(*lists, strict=True)) if lists else []


# ISO forms that Arrow's casts and Python's date/datetime parsers read to the same value.
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?$"
_MIN_DAY = (dt.date(1, 1, 1) - dt.date(1970, 1, 1)).days
_MAX_DAY = (dt.date(9999, 12, 31) - dt.date(1970, 1, 1)).days
_US_PER_DAY = 86_400_000_000


def parse_iso_column(values: Sequence[Any], typ: pa.DataType) -> pa.Array | None:
    """Text dates (`YYYY-MM-DD`) or naive datetimes (`YYYY-MM-DD HH:MM:SS[.ffffff]`) as a
    date32/timestamp[us] array, or None when any value is not plainly in that form or falls
    outside Python's year 1-9999 (callers then convert value by value)."""
    if not set(map(type, values)) <= {str, type(None)}:
        return None
    try:
        return parse_iso_array(pa.array(values, pa.string()), typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None


def parse_iso_array(text: pa.Array, typ: pa.DataType) -> pa.Array | None:
    """`parse_iso_column` for values already in a string array."""
    try:
        if pa.types.is_date32(typ):
            pattern, low, high, width = _ISO_DATE, _MIN_DAY, _MAX_DAY, pa.int32()
        elif pa.types.is_timestamp(typ) and typ.unit == "us" and typ.tz is None:
            pattern, width = _ISO_DATETIME, pa.int64()
            low, high = _MIN_DAY * _US_PER_DAY, (_MAX_DAY + 1) * _US_PER_DAY - 1
        else:
            return None
        if pc.all(pc.match_substring_regex(text, pattern)).as_py() is False:
            return None
        parsed = text.cast(typ)
        bounds = pc.min_max(parsed.cast(width))
        lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
        if lo is not None and (lo < low or hi > high):
            return None
        return parsed
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None


class RowsToArrow:
    """A page of fetched row tuples to a RecordBatch in one Arrow pass: `pa.array` of the rows
    as a struct, so no per-column Python lists.

    `raw` is the Arrow type each position is read as (trailing paging-key columns included:
    converted, then dropped); where it differs from `schema`, `fix(i, array)` turns column i's
    raw array into its schema type, or returns None when a value has a form only the caller's
    value-by-value path reads. batch() returns None in that case, and when pyarrow would refuse
    or truncate a value (a float among integers)."""

    def __init__(
        self,
        schema: pa.Schema,
        raw: Sequence[pa.DataType],
        fix: Callable[[int, pa.Array], pa.Array | None],
    ) -> None:
        self.schema = schema
        self.struct = pa.struct([pa.field(f"c{i}", t) for i, t in enumerate(raw)])
        self.no_floats = [itemgetter(i) for i, t in enumerate(raw) if pa.types.is_integer(t)]
        self.fix = fix

    def batch(self, rows: list[tuple[Any, ...]]) -> pa.RecordBatch | None:
        for get in self.no_floats:
            if float in set(map(type, map(get, rows))):
                return None
        try:
            arrays = pa.array(rows, self.struct).flatten()
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            return None
        return self.from_raw(arrays)

    def from_raw(self, arrays: Sequence[pa.Array]) -> pa.RecordBatch | None:
        """The batch from arrays already of the `raw` types (trailing key columns dropped), or
        None as in batch()."""
        out = []
        for i, (arr, field) in enumerate(zip(arrays, self.schema, strict=False)):
            if arr.type != field.type:
                arr = self.fix(i, arr)
                if arr is None:
                    return None
            out.append(arr)
        return pa.RecordBatch.from_arrays(out, schema=self.schema)
