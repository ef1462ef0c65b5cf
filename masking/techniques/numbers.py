"""Numeric techniques. Outputs keep the input arrow type and respect precision/scale."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from masking.schema import ColumnSpec
from masking.techniques.fpe import renumber
from masking.techniques.keyed import below, uniform
from masking.techniques.registry import Impl, N, Param, Technique, register


def as_float(src: pa.Array) -> np.ndarray:
    return pc.cast(src, pa.float64()).to_numpy(zero_copy_only=False)


def bounds(typ: pa.DataType, column: ColumnSpec) -> tuple[float, float, int | None]:
    """(lowest, highest, decimal places) a value may take in this column."""
    scale = column.scale
    if pa.types.is_decimal(typ):
        scale = typ.scale if scale is None else min(scale, typ.scale)
        digits = typ.precision - typ.scale
    elif pa.types.is_integer(typ):
        scale = 0
        info = np.iinfo(typ.to_pandas_dtype())
        digits = None
    else:
        digits = None
    hi = float(np.iinfo(typ.to_pandas_dtype()).max) if pa.types.is_integer(typ) else 1e300
    lo = float(np.iinfo(typ.to_pandas_dtype()).min) if pa.types.is_integer(typ) else -1e300
    if column.precision is not None:
        digits = (
            column.precision - (scale or 0)
            if digits is None
            else min(digits, column.precision - (scale or 0))
        )
    if digits is not None:
        top = 10.0**digits - 10.0 ** -(scale or 0)
        hi, lo = min(hi, top), max(lo, -top)
    if pa.types.is_integer(typ):
        info = np.iinfo(typ.to_pandas_dtype())
        hi, lo = min(hi, float(info.max)), max(lo, float(info.min))
    return lo, hi, scale


def from_float(x: np.ndarray, typ: pa.DataType, column: ColumnSpec) -> pa.Array:
    lo, hi, scale = bounds(typ, column)
    x = np.clip(x, lo, hi)
    if scale is not None:
        x = np.round(x, scale)
    if pa.types.is_integer(typ):
        # clip again after rounding: float64 cannot hold int64's extremes exactly
        x = np.clip(np.round(x), lo, hi)
        return pa.array(x.astype(typ.to_pandas_dtype()), typ)
    if pa.types.is_decimal(typ):
        return pc.cast(pa.array(x, pa.float64()), typ, safe=False)
    return pa.array(x, pa.float64()).cast(typ)


def _random_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    lo, hi = m.params["min"], m.params["max"]
    u = uniform(keys, 1)
    # whole numbers when the group holds them (an integer column anywhere in it): the same
    # draw then lands on the same number in every member
    if pa.types.is_integer(src.type) or m.ctx.column.scale == 0:
        x = np.floor(lo + u * (np.floor(hi) - np.ceil(lo) + 1))
        x = np.minimum(x, np.floor(hi))
    else:
        x = lo + u * (hi - lo)
    return from_float(x, src.type, m.ctx.column)


def _range_check(params: dict, column: ColumnSpec) -> list[str]:
    """The range must fit the column, or values would be clipped column by column."""
    digits = column.extra.get("int_digits")
    if column.precision is not None:
        whole = column.precision - (column.scale or 0)
        digits = whole if digits is None else min(digits, whole)
    if digits is not None and max(abs(params["min"]), abs(params["max"])) >= 10**digits:
        return [f"the range {params['min']:g} to {params['max']:g} does not fit the column"]
    return []


def _range_validate(params: dict) -> dict[str, str]:
    return {"max": "must be greater than min"} if params["max"] <= params["min"] else {}


register(
    Technique(
        "random_number",
        "Random number",
        frozenset({N}),
        (
            Param("min", "float", 0.0, help="Lowest value"),
            Param("max", "float", 1000.0, help="Highest value"),
        ),
        identity_hiding=True,
        deterministic=True,
        unique_capable=False,
        description="Uniform in [min, max], clipped to the column's precision; never the input "
        "(unless the range and column admit a single value).",
    ),
    Impl(render=_random_render, extra_validate=_range_validate, check=_range_check),
)


def _noise_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    x = as_float(src)
    pct = m.params["percent"] / 100.0
    u = uniform(keys, 2) * 2.0 - 1.0
    y = x * (1.0 + u * pct)
    y = np.where(np.sign(y) != np.sign(x), x * (1.0 - np.abs(u) * min(pct, 0.99)), y)  # keeps sign
    return from_float(y, src.type, m.ctx.column)


register(
    Technique(
        "noise",
        "Add noise",
        frozenset({N}),
        (Param("percent", "float", 10.0, min=0.01, max=1000, help="Maximum relative change, ±%"),),
        identity_hiding=False,
        deterministic=True,
        unique_capable=False,
        description="Multiplies by 1 ± up to percent; keeps the sign and scale (0 stays 0).",
    ),
    Impl(render=_noise_render),
)


def _round_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    step = m.params["to"]
    return from_float(np.round(as_float(src) / step) * step, src.type, m.ctx.column)


register(
    Technique(
        "round",
        "Round / bucket",
        frozenset({N}),
        (
            Param(
                "to",
                "float",
                10.0,
                min=1e-9,
                help="Bucket size: values snap to the nearest multiple",
            ),
        ),
        identity_hiding=False,
        deterministic=True,
        unique_capable=False,
    ),
    Impl(render=_round_render),
)


def _fixed_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    return from_float(np.full(len(src), m.params["value"]), src.type, m.ctx.column)


register(
    Technique(
        "fixed_number",
        "Fixed number",
        frozenset({N}),
        (Param("value", "float", 0.0),),
        identity_hiding=False,
        deterministic=True,
        unique_capable=False,
    ),
    Impl(render=_fixed_render),
)


def _sequence_apply(values: pa.Array, m, offset: int) -> pa.Array:
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    if m.state is None:
        m.state = {"next": 0}
    count = int(valid.sum())
    start = m.state["next"]
    m.state["next"] += count
    seq = m.params["start"] + m.params["step"] * (start + np.arange(count, dtype=np.float64))
    lo, hi, _ = bounds(values.type, m.ctx.column)
    if count and (seq.max() > hi or seq.min() < lo):
        from masking.errors import UniquenessError

        raise UniquenessError(
            m.ctx.column.name, "sequence", "the sequence outgrew the column's range"
        )
    out = np.zeros(len(values))
    out[valid] = seq
    arr = from_float(out, values.type, m.ctx.column)
    return pc.if_else(pa.array(valid), arr, pa.scalar(None, arr.type))


register(
    Technique(
        "sequence",
        "Sequence",
        frozenset({N}),
        (Param("start", "int", 1), Param("step", "int", 1, min=1)),
        identity_hiding=False,
        deterministic=False,
        unique_capable=True,
        description="start, start+step, ... numbering the rows in the order they are read "
        "(primary-key order) across the whole table, so a re-run of the same rows gives the "
        "same numbers. It numbers rows, not values: a column other tables join on needs a "
        "keyed technique such as hash_number instead.",
    ),
    Impl(apply=_sequence_apply),
)


HASH_NUMBER_MAX_DIGITS = 18  # 10**18 - 1 still fits a signed 64-bit integer


def hn_digits(column: ColumnSpec) -> int:
    """Digits a keyed number may have in this column group: the tightest member decides
    (its precision minus scale, or what its integer type holds)."""
    d = min(HASH_NUMBER_MAX_DIGITS, column.extra.get("int_digits") or HASH_NUMBER_MAX_DIGITS)
    if column.precision is not None:
        d = min(d, column.precision - (column.scale or 0))
    return max(d, 1)


def int_digits(typ: pa.DataType) -> int:
    """Whole decimal digits every value of this Arrow type can hold (int32: 9)."""
    if pa.types.is_integer(typ):
        return len(str(np.iinfo(typ.to_pandas_dtype()).max)) - 1
    if pa.types.is_decimal(typ):
        return typ.precision - typ.scale
    return 15  # doubles hold 15 significant digits exactly


def _whole_values(src: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(value as int64, is a whole number that fits) per input."""
    if pa.types.is_integer(src.type):
        v = src.cast(pa.int64(), safe=False).to_numpy(zero_copy_only=False)
        return v.astype(np.int64), np.ones(len(v), dtype=bool)
    x = as_float(src)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(x) & (np.floor(x) == x) & (np.abs(x) < 2.0**53)
    return np.where(ok, x, 0).astype(np.int64), ok


def _hash_number_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    size = 10 ** hn_digits(m.ctx.column) - 1  # outputs 1 .. 10**d - 1
    value, whole = _whole_values(src)
    ok = whole & (value >= 1) & (value <= size)
    index = np.where(ok, value - 1, 0).astype(np.uint64)
    fallback = below(keys, size, 3)
    out = renumber(m, attempt, ok, index, size, "hash_number", fallback) + np.uint64(1)
    typ = src.type
    whole = pa.array(out.astype(np.int64), pa.int64())
    if pa.types.is_integer(typ):
        return whole.cast(typ)
    if pa.types.is_decimal(typ):  # through a wide decimal: the digits were sized to fit typ
        wide = pa.decimal256(76, typ.scale) if pa.types.is_decimal256(typ) else None
        return whole.cast(wide or pa.decimal128(38, typ.scale)).cast(typ)
    return from_float(out.astype(np.float64), typ, m.ctx.column)


register(
    Technique(
        "hash_number",
        "Keyed hash number",
        frozenset({N}),
        (),
        identity_hiding=True,
        deterministic=True,
        unique_capable=True,
        description="A positive whole number with as many digits as the tightest column of its "
        "group allows (at most 18). Inputs from 1 to that maximum go through a keyed "
        "permutation without fixed points, so different numbers never share an output (unique "
        "by construction); other inputs get a number drawn from their key.",
    ),
    Impl(render=_hash_number_render, space=lambda p, c: 10 ** hn_digits(c) - 1),
)
