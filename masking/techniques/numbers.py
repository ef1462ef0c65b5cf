"""Numeric techniques. Outputs keep the input arrow type and respect precision/scale."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from masking.schema import ColumnSpec
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
    if pa.types.is_integer(src.type):
        x = np.floor(lo + u * (np.floor(hi) - np.ceil(lo) + 1))
        x = np.minimum(x, np.floor(hi))
    else:
        x = lo + u * (hi - lo)
    return from_float(x, src.type, m.ctx.column)


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
    Impl(render=_random_render, extra_validate=_range_validate),
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
        description="start, start+step, ... in row order across the whole run.",
    ),
    Impl(apply=_sequence_apply),
)


def _hn_digits(column: ColumnSpec, typ: pa.DataType | None = None) -> int:
    d = 15
    if column.precision is not None:
        d = min(d, column.precision - (column.scale or 0))
    if typ is not None:
        if pa.types.is_decimal(typ):
            d = min(d, typ.precision - typ.scale)
        elif pa.types.is_integer(typ):
            d = min(d, len(str(np.iinfo(typ.to_pandas_dtype()).max)) - 1)
    return max(d, 1)


def _hash_number_render(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    d = _hn_digits(m.ctx.column, src.type)
    x = 1 + below(keys, 10**d - 1, 3).astype(np.float64)
    return from_float(x, src.type, m.ctx.column)


register(
    Technique(
        "hash_number",
        "Keyed hash number",
        frozenset({N}),
        (),
        identity_hiding=True,
        deterministic=True,
        unique_capable=True,
        description="Positive integer from a keyed hash, as many digits as the column allows.",
    ),
    Impl(render=_hash_number_render, space=lambda p, c: 10 ** _hn_digits(c) - 1),
)
