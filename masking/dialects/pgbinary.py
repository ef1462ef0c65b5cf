"""Arrow record batches as PostgreSQL binary COPY rows, built column by column.

Each column becomes a `Field`: its values in the type's binary send format, either as an
(n, width) byte matrix built in numpy (fixed-width types) or as the Arrow array's own data and
offsets (text, bytea, json), and which rows are NULL. `_pgrows.c` then writes the rows (the
field count, and per field a 4-byte big-endian length, -1 for NULL, then the value) in one
pass without the interpreter lock; `rows_reference` is the same in Arrow compute, used when
the extension is not built and as the reference it is tested against. No Python work per
value.

Supported target types are listed in `encoder_for`; a table with any other column type is
loaded through the CSV format instead (same stream, text input functions)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from masking.dialects import arrowconv
from masking.errors import TerminalError
from masking.schema import ColumnInfo

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = b"\xff\xff"

_PG_EPOCH_DAYS = 10_957  # 2000-01-01 in days since 1970-01-01
_PG_EPOCH_US = _PG_EPOCH_DAYS * 86_400_000_000
_EMPTY = pa.scalar(b"", pa.large_binary())

try:
    from masking.dialects import _pgrows as _native  # type: ignore[attr-defined]
except ImportError:  # built with the package; without it, Arrow compute joins the rows
    _native = None

# A column's wire fields (see _pgrows.c): (data, offsets or None, width, valid or None, prefix).
Field = tuple[Any, "np.ndarray | None", int, "np.ndarray | None", bytes]
# A column's values -> its fields.
Encoder = Callable[[pa.Array], Field]


class EncodeError(TerminalError):
    """A value cannot be represented in the target column's type (never carries the value)."""


def _valid(values: pa.Array) -> np.ndarray | None:
    if values.null_count == 0:
        return None
    return np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)


def _field_matrix(data: np.ndarray, valid: np.ndarray | None) -> Field:
    """Fixed-width values (an (n, width) big-endian byte matrix) as fields."""
    flags = None if valid is None else np.ascontiguousarray(valid).view(np.uint8)
    return (np.ascontiguousarray(data, dtype=np.uint8), None, data.shape[1], flags, b"")


def _numbers(values: pa.Array, arrow_type: pa.DataType, big_endian: str) -> np.ndarray:
    """The values as an (n, width) big-endian byte matrix (NULL slots hold zeros)."""
    if values.type != arrow_type:
        try:
            values = values.cast(arrow_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise EncodeError(f"a value does not fit the column's type ({arrow_type})") from exc
    filled = values.fill_null(0) if values.null_count else values
    native = filled.to_numpy(zero_copy_only=False)
    out = native.astype(big_endian, copy=False)
    return out.view(np.uint8).reshape(len(values), -1)


def _fixed(arrow_type: pa.DataType, big_endian: str) -> Encoder:
    def encode(values: pa.Array) -> Field:
        return _field_matrix(_numbers(values, arrow_type, big_endian), _valid(values))

    return encode


def _shifted(arrow_type: pa.DataType, storage: pa.DataType, shift: int, big_endian: str) -> Encoder:
    """Temporal values: Arrow's integer storage moved to PostgreSQL's 2000-01-01 epoch."""

    def encode(values: pa.Array) -> Field:
        if values.type != arrow_type:
            try:
                values = values.cast(arrow_type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise EncodeError(f"a value does not fit the column's type ({arrow_type})") from exc
        raw = values.view(storage) if values.type != storage else values
        ints = _numbers(raw, storage, big_endian).view(big_endian).reshape(-1)
        shifted = (ints.astype(np.int64) - shift).astype(big_endian)
        return _field_matrix(shifted.view(np.uint8).reshape(len(values), -1), _valid(values))

    return encode


def _bool(values: pa.Array) -> Field:
    if values.type != pa.bool_():
        values = values.cast(pa.bool_())
    filled = values.fill_null(False) if values.null_count else values
    data = np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.uint8).reshape(-1, 1)
    return _field_matrix(data, _valid(values))


def _varlen(values: pa.Array, version: bytes = b"") -> Field:
    """Text-like and bytea values: their bytes as they are (UTF-8 text is the client encoding
    the connection runs with); `version` is prepended to each non-NULL value (jsonb's 1)."""
    if (
        pa.types.is_string(values.type)
        or pa.types.is_large_string(values.type)
        or pa.types.is_binary(values.type)
    ):
        raw = values.cast(pa.large_binary())
    elif pa.types.is_large_binary(values.type):
        raw = values
    else:
        raw = values.cast(pa.large_string()).cast(pa.large_binary())
    n = len(raw)
    bufs = raw.buffers()
    offsets = np.frombuffer(bufs[1], dtype="<i8", count=n + 1, offset=8 * raw.offset)
    valid = _valid(raw)
    flags = None if valid is None else valid.view(np.uint8)
    if n:
        lengths = np.diff(offsets) if valid is None else np.diff(offsets)[valid]
        if lengths.size and int(lengths.max()) + len(version) > 0x3FFFFFFF:
            raise EncodeError("a value is larger than 1 GB, the most PostgreSQL stores in a field")
    return (bufs[2] if bufs[2] is not None else b"", offsets, 0, flags, version)


def _jsonb(values: pa.Array) -> Field:
    return _varlen(values, version=b"\x01")


_HEX = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX[_c] = 10 + _i


def _uuid(values: pa.Array) -> Field:
    """Canonical or undashed hexadecimal text (as uuids are read) to 16 raw bytes."""
    text = pc.replace_substring(values.cast(pa.string()), "-", "")
    if text.null_count:
        text = text.fill_null("0" * 32)
    if pc.any(pc.not_equal(pc.binary_length(text), 32)).as_py():
        raise EncodeError("a value is not a valid uuid")
    chars = np.frombuffer(text.buffers()[2], np.uint8)
    start = int(np.frombuffer(text.buffers()[1], np.int32)[text.offset])
    nibbles = _HEX[chars[start : start + 32 * len(text)]]
    if (nibbles == 255).any():
        raise EncodeError("a value is not a valid uuid")
    pairs = nibbles.reshape(len(text), 16, 2)
    data = (pairs[:, :, 0] << 4) | pairs[:, :, 1]
    return _field_matrix(data.astype(np.uint8), _valid(values))


def _numeric(precision: int, scale: int) -> Encoder:
    """numeric's send format: ndigits, weight, sign, dscale, then base-10000 digits.

    Every value of the column is written with the same digit count (leading and trailing
    zero groups included, which the server strips), so the field is fixed-width. Unscaled
    values that fit 64 bits are split in numpy; wider ones (precision above 18) per value."""
    frac_groups = -(-scale // 4)
    pad = 4 * frac_groups - scale
    int_groups = max(0, -(-(precision - scale) // 4))
    ndigits = max(1, int_groups + frac_groups)
    weight = int_groups - 1
    arrow_type = pa.decimal128(precision, scale)
    fits = precision + pad <= 18

    def encode(values: pa.Array) -> Field:
        if values.type != arrow_type:
            try:
                values = values.cast(arrow_type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise EncodeError(f"a value does not fit numeric({precision}, {scale})") from exc
        n = len(values)
        if fits:
            words = np.frombuffer(values.buffers()[1], dtype="<i8")
            unscaled = words[2 * values.offset : 2 * (values.offset + n) : 2].copy()
            negative = unscaled < 0
            magnitude = np.abs(unscaled) * (10**pad)
            digits = np.empty((n, ndigits), dtype=np.int64)
            for g in range(ndigits - 1, -1, -1):
                digits[:, g] = magnitude % 10_000
                magnitude //= 10_000
        else:
            negative = np.zeros(n, dtype=bool)
            digits = np.zeros((n, ndigits), dtype=np.int64)
            raw = values.buffers()[1].to_pybytes()
            valid = _valid(values)
            for i in range(n):
                if valid is not None and not valid[i]:
                    continue
                at = 16 * (values.offset + i)
                value = int.from_bytes(raw[at : at + 16], "little", signed=True)
                negative[i] = value < 0
                m = abs(value) * (10**pad)
                for g in range(ndigits - 1, -1, -1):
                    m, digits[i, g] = divmod(m, 10_000)
        header = np.empty((n, 4), dtype=">i2")
        header[:, 0] = ndigits
        header[:, 1] = weight
        header[:, 2] = np.where(negative, 0x4000, 0)
        header[:, 3] = scale
        body = np.concatenate(
            [
                header.view(np.uint8).reshape(n, 8),
                digits.astype(">i2").view(np.uint8).reshape(n, 2 * ndigits),
            ],
            axis=1,
        )
        return _field_matrix(body, _valid(values))

    return encode


_INT = {
    "smallint": (pa.int16(), ">i2"),
    "int2": (pa.int16(), ">i2"),
    "integer": (pa.int32(), ">i4"),
    "int4": (pa.int32(), ">i4"),
    "bigint": (pa.int64(), ">i8"),
    "int8": (pa.int64(), ">i8"),
}
_FLOAT = {
    "real": (pa.float32(), ">f4"),
    "float4": (pa.float32(), ">f4"),
    "double precision": (pa.float64(), ">f8"),
    "float8": (pa.float64(), ">f8"),
}
_TEXT = frozenset(
    {"character varying", "varchar", "text", "character", "char", "bpchar", "user-defined"}
)


def encoder_for(col: ColumnInfo) -> Encoder | None:
    """The binary encoder for a target column, or None when its type is written as text."""
    t = col.native_type
    if t in _INT:
        return _fixed(*_INT[t])
    if t in _FLOAT:
        return _fixed(*_FLOAT[t])
    if t in ("numeric", "decimal"):
        # Read with the Arrow type arrow_type() gives, so encode with the same precision/scale.
        arrow = arrowconv.arrow_type(col)
        if 0 <= arrow.scale <= arrow.precision:
            return _numeric(arrow.precision, arrow.scale)
        return None
    if t in ("boolean", "bool"):
        return _bool
    if t == "date":
        return _shifted(pa.date32(), pa.int32(), _PG_EPOCH_DAYS, ">i4")
    if t in ("timestamp without time zone", "timestamp"):
        return _shifted(pa.timestamp("us"), pa.int64(), _PG_EPOCH_US, ">i8")
    if t in ("timestamp with time zone", "timestamptz"):
        return _shifted(pa.timestamp("us", tz="UTC"), pa.int64(), _PG_EPOCH_US, ">i8")
    if t in ("time without time zone", "time"):
        return _shifted(pa.time64("us"), pa.int64(), 0, ">i8")
    if t in _TEXT or t in ("bytea", "json"):
        return _varlen
    if t == "jsonb":
        return _jsonb
    if t == "uuid":
        return _uuid
    return None


def encoders_for(columns: Sequence[ColumnInfo]) -> list[Encoder] | None:
    """One encoder per column, or None when any column needs the text format."""
    out = [encoder_for(c) for c in columns]
    return None if any(e is None for e in out) else out  # type: ignore[return-value]


def encode_batch(batch: pa.RecordBatch, encoders: Sequence[Encoder]) -> bytes:
    """The batch's rows in COPY BINARY tuple format (no signature or trailer)."""
    n = batch.num_rows
    if n == 0:
        return b""
    fields = []
    for column, encode in zip(batch.columns, encoders, strict=True):
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        fields.append(encode(column))
    if _native is None:
        return rows_reference(n, fields)
    return bytes(_native.rows(n, fields))


def rows_reference(n: int, fields: Sequence[Field]) -> bytes:
    """What `_pgrows.rows` writes, in Arrow compute: per field a length-prefix array and a
    value array, joined row by row."""
    parts: list[pa.Array | pa.Scalar] = [
        pa.scalar(struct.pack(">h", len(fields)), pa.large_binary())
    ]
    for data, offsets, width, valid, prefix in fields:
        if offsets is None:
            offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
        offsets = np.asarray(offsets, dtype=np.int64)
        body = pa.Array.from_buffers(
            pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        )
        lengths = (np.diff(offsets) + len(prefix)).astype(">i4")
        if prefix:
            body = pc.binary_join_element_wise(pa.scalar(prefix, pa.large_binary()), body, _EMPTY)
        if valid is not None:
            ok = np.asarray(valid, dtype=bool)
            lengths[~ok] = -1
            body = pc.if_else(pa.array(ok), body, _EMPTY)
        heads = pa.Array.from_buffers(
            pa.large_binary(),
            n,
            [
                None,
                pa.py_buffer(np.arange(0, 4 * (n + 1), 4, dtype=np.int64)),
                pa.py_buffer(lengths),
            ],
        )
        parts.extend([heads, body])
    joined = pc.binary_join_element_wise(*parts, _EMPTY)
    ends = np.frombuffer(joined.buffers()[1], dtype=np.int64)
    return joined.buffers()[2].to_pybytes()[int(ends[0]) : int(ends[n])]
