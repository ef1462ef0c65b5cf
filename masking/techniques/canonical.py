"""The canonical form of a value: the bytes the keyed hash reads.

A deterministic technique's output is a function of the workflow key, the technique, its
parameters and the *canonical* input value, so the same logical value masks the same way
whatever type or encoding a driver returned it in. The canonical form is UTF-8 text:

========================  ===============================================================
values                    canonical text
========================  ===============================================================
text (any Arrow string    the text without trailing spaces (``CHAR(n)`` padding: databases
encoding, dictionaries)   compare ``'ab'`` and ``'ab  '`` as equal)
UUID columns              lowercase ``8-4-4-4-12`` hex, from 16 bytes or from text (braces
                          and surrounding spaces dropped)
integers (any width)      decimal digits with a leading ``-`` when negative: ``-42``
decimals (any scale)      plain decimal, no trailing fractional zeros: ``5.50`` -> ``5.5``,
                          ``100.00`` -> ``100``, ``-0.00`` -> ``0``
floating point            integral values as integers (``5.0`` -> ``5``); others as the
                          shortest decimal that reads back as the same double, in plain
                          notation (``1.5e-7`` -> ``0.00000015``); ``NaN``, ``Infinity``,
                          ``-Infinity``
booleans                  ``true`` / ``false``
dates                     ``YYYY-MM-DD``
date-times                ``YYYY-MM-DD`` at midnight, else ``YYYY-MM-DD HH:MM:SS`` plus a
                          fraction without trailing zeros (down to nanoseconds); values with
                          a time zone are taken in UTC
times of day              ``HH:MM:SS`` plus a fraction without trailing zeros
binary                    the bytes themselves
========================  ===============================================================

So an integer key and its copy in a ``DECIMAL(12,2)`` or ``VARCHAR`` column mask alike, a
``DATE`` and a ``DATETIME`` at midnight mask alike, and a ``CHAR(10)`` code joins its
``VARCHAR`` copy. NULL has no canonical form: techniques pass it through.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from masking.schema import TypeCategory

_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}
_TO_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


def canonical(values: pa.Array, category: TypeCategory | str | None = None) -> pa.Array:
    """Canonical UTF-8 text (as large_binary) of each value; nulls become empty values."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_string_view(values.type):  # few kernels take views yet
        values = values.cast(pa.large_string())
    elif pa.types.is_binary_view(values.type):
        values = values.cast(pa.large_binary())
    if values.null_count:
        valid = values.is_valid().to_numpy(zero_copy_only=False)
        inner = canonical(values.filter(pa.array(valid)), category)
        pos = np.cumsum(valid) - 1
        return inner.take(pa.array(pos, mask=~valid)).fill_null(b"")
    typ = values.type
    if pa.types.is_dictionary(typ):
        # canonicalise each distinct value once, then spread it over the rows
        return canonical(values.dictionary, category).take(values.indices)
    if category == TypeCategory.UUID:
        return _uuid(values)
    if _is_text(typ):
        text = values.cast(pa.large_string())
        return pc.utf8_rtrim(text, characters=" ").cast(pa.large_binary())
    if pa.types.is_integer(typ):
        return _text(pc.cast(values, pa.string()))
    if pa.types.is_decimal(typ):
        return _text(_trim_fraction(pc.cast(values, pa.string())))
    if pa.types.is_floating(typ):
        return _text(_floats(values))
    if pa.types.is_boolean(typ):
        return _text(pc.if_else(values, "true", "false"))
    if pa.types.is_date(typ):
        return _text(pc.cast(values.cast(pa.date32()), pa.string()))
    if pa.types.is_timestamp(typ):
        return _text(_timestamps(values))
    if pa.types.is_time(typ):
        width = pa.int32() if pa.types.is_time32(typ) else pa.int64()
        ticks = values.cast(width).to_numpy(zero_copy_only=False)
        return _text(_time_text(ticks.astype(np.int64) * _TO_NS[typ.unit]))
    if pa.types.is_binary(typ) or pa.types.is_large_binary(typ):
        return values.cast(pa.large_binary())
    if pa.types.is_fixed_size_binary(typ) or pa.types.is_binary_view(typ):
        return pa.array(values.to_pylist(), pa.large_binary())
    if pa.types.is_null(typ):
        return pa.array([b""] * len(values), pa.large_binary())
    return _text(pc.cast(values, pa.string()))


def _is_text(typ: pa.DataType) -> bool:
    return pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_string_view(typ)


def _text(values: pa.Array) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values.cast(pa.large_string()).cast(pa.large_binary())


def _trim_fraction(text: pa.Array) -> pa.Array:
    """'5.50' -> '5.5', '100.00' -> '100', '-0.0' -> '0'."""
    text = pc.replace_substring_regex(text, r"(\.\d*?)0+$", r"\1")
    text = pc.replace_substring_regex(text, r"\.$", "")
    return pc.replace_substring_regex(text, r"^-0$", "0")


def _floats(values: pa.Array) -> pa.Array:
    x = values.cast(pa.float64()).to_numpy(zero_copy_only=False)
    n = len(x)
    with np.errstate(invalid="ignore"):
        integral = np.isfinite(x) & (np.floor(x) == x) & (np.abs(x) < 2.0**63)
    out = np.empty(n, dtype=object)
    if integral.any():
        out[integral] = pc.cast(pa.array(x[integral].astype(np.int64)), pa.string()).to_numpy(
            zero_copy_only=False
        )
    rest = np.flatnonzero(~integral)
    if len(rest):
        shortest = pc.cast(pa.array(x[rest]), pa.string()).to_pylist()
        out[rest] = [_plain_float(x[i], s) for i, s in zip(rest.tolist(), shortest, strict=True)]
    return pa.array(out, pa.string())


def _plain_float(x: float, shortest: str | None) -> str:
    if np.isnan(x):
        return "NaN"
    if np.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    text = shortest if shortest is not None else repr(float(x))
    if "e" not in text and "E" not in text:
        return text
    # same shortest digits, written out without an exponent
    plain = format(Decimal(repr(float(x))), "f")
    return plain.rstrip("0").rstrip(".") if "." in plain else plain


def _timestamps(values: pa.Array) -> pa.Array:
    typ = values.type
    ticks = values.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.int64)
    per_day = _PER_DAY[typ.unit]
    days = np.floor_divide(ticks, per_day)
    tod = (ticks - days * per_day) * _TO_NS[typ.unit]
    date_text = pc.cast(pa.array(days.astype(np.int32), pa.int32()).cast(pa.date32()), pa.string())
    midnight = tod == 0
    if midnight.all():
        return date_text
    time_text = _time_text(tod)
    joined = pc.binary_join_element_wise(date_text, time_text, " ")
    return pc.if_else(pa.array(midnight), date_text, joined)


def _time_text(ns: np.ndarray) -> pa.Array:
    """'HH:MM:SS' plus a fraction without trailing zeros, from nanoseconds since midnight."""
    text = pc.cast(pa.array(ns.astype(np.int64), pa.int64()).cast(pa.time64("ns")), pa.string())
    return _trim_fraction(text)


def _uuid(values: pa.Array) -> pa.Array:
    typ = values.type
    if pa.types.is_fixed_size_binary(typ) or pa.types.is_binary(typ):
        raw = [None if v is None else v.hex() for v in values.to_pylist()]
        hexed = pa.array(raw, pa.string())
        parts = [pc.utf8_slice_codeunits(hexed, a, b) for a, b in _UUID_GROUPS]
        return _text(pc.binary_join_element_wise(*parts, "-"))
    text = pc.utf8_lower(pc.utf8_trim(values.cast(pa.large_string()), characters=" {}"))
    return text.cast(pa.large_binary())


_UUID_GROUPS = ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))
