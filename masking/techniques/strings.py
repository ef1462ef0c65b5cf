"""Vectorised string assembly on polars; keeps render functions free of per-value loops."""

from __future__ import annotations

from functools import lru_cache
from typing import cast

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

Part = "pl.Series | np.ndarray | pa.Array | str"


def as_series(arr: pa.Array | pa.ChunkedArray) -> pl.Series:
    """An Arrow array as a polars Series (from_arrow is typed for tables too)."""
    return cast(pl.Series, pl.from_arrow(arr))


def series(part: object) -> pl.Series | str:
    if isinstance(part, str | pl.Series):
        return part
    if isinstance(part, np.ndarray):
        if part.dtype.kind in "iu":
            return pl.Series(part.astype(np.int64)).cast(pl.String)
        return pl.Series(part.astype(str))
    if isinstance(part, pa.Array | pa.ChunkedArray):
        return as_series(part)
    raise TypeError(type(part))


def num(values: np.ndarray, width: int = 0) -> pl.Series:
    s = pl.Series(values.astype(np.int64)).cast(pl.String)
    return s.str.zfill(width) if width else s


def concat(*parts: object) -> pl.Series:
    exprs = [pl.lit(p) if isinstance(p, str) else pl.lit(p) for p in map(series, parts)]
    return pl.select(pl.concat_str(exprs).alias("v")).to_series()


def to_arrow(s: pl.Series) -> pa.Array:
    arr = s.to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.string())


def take(pool: pa.Array, idx: np.ndarray) -> pl.Series:
    return as_series(pool.take(pa.array(idx)))


@lru_cache(maxsize=256)
def arrow_items(items: tuple) -> pa.Array:
    return pa.array(items, pa.string())


def pick(items: tuple, idx: np.ndarray) -> pl.Series:
    return as_series(arrow_items(items).take(pa.array(idx)))


def join(*parts: "pa.Array | str") -> pa.Array:
    """Row-wise concatenation of arrow string arrays and literals, without polars."""
    arrays = [p for p in parts if not isinstance(p, str)]
    if not arrays:
        raise ValueError("join needs at least one array")
    out = pc.binary_join_element_wise(*parts, "")
    if isinstance(out, pa.ChunkedArray):
        out = out.combine_chunks()
    return out.cast(pa.string())


def src_series(src: pa.Array) -> pl.Series:
    return as_series(src.cast(pa.string())) if len(src) else pl.Series([], dtype=pl.String)


def where(cond: np.ndarray, a: pl.Series, b: pl.Series) -> pl.Series:
    df = pl.DataFrame({"c": cond, "a": a, "b": b})
    return df.select(pl.when(pl.col("c")).then(pl.col("a")).otherwise(pl.col("b"))).to_series()


def fixed_width(mat: np.ndarray) -> pa.Array:
    """Rows of ASCII bytes -> arrow strings without a per-value step (offsets are implicit)."""
    n, w = mat.shape
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32) if n else np.zeros(1, np.int32)
    data = np.ascontiguousarray(mat, dtype=np.uint8).tobytes()
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))


def put_digits(mat: np.ndarray, col: int, values: np.ndarray, width: int) -> None:
    """Write zero-padded decimal ``values`` into ``mat[:, col:col+width]`` in place."""
    v = values.astype(np.int64)
    for i in range(width - 1, -1, -1):
        mat[:, col + i] = (v % 10 + 48).astype(np.uint8)
        v //= 10


_B36 = np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)


def base36(keys: np.ndarray, width: int = 13) -> pa.Array:
    """Each 64-bit key as ``width`` lowercase base-36 digits (13 hold any key)."""
    k = keys.astype(np.uint64, copy=True)
    mat = np.empty((len(keys), width), dtype=np.uint8)
    for i in range(width - 1, -1, -1):
        mat[:, i] = _B36[(k % np.uint64(36)).astype(np.int64)]
        k //= np.uint64(36)
    return fixed_width(mat)


def digit_rows(text: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, width) ASCII bytes of the values that are exactly ``width`` characters long, and
    which rows those are (other rows hold zeros)."""
    text = text.cast(pa.large_string())
    n = len(text)
    mat = np.zeros((n, width), dtype=np.uint8)
    if n == 0:
        return mat, np.zeros(0, dtype=bool)
    lengths = pc.binary_length(text).fill_null(-1).to_numpy(zero_copy_only=False)
    ok = lengths == width
    if ok.any():
        bufs = text.buffers()
        offsets = np.frombuffer(bufs[1], dtype=np.int64, count=n + 1, offset=text.offset * 8)
        data = np.frombuffer(bufs[2], dtype=np.uint8)
        rows = np.flatnonzero(ok)
        mat[rows] = data[offsets[rows][:, None] + np.arange(width)]
    return mat, ok


def digits_value(mat: np.ndarray) -> np.ndarray:
    """Rows of ASCII digits -> their value as uint64 (at most 19 digits)."""
    out = np.zeros(len(mat), dtype=np.uint64)
    for i in range(mat.shape[1]):
        out = out * np.uint64(10) + (mat[:, i].astype(np.uint64) - np.uint64(48))
    return out


def value_digits(values: np.ndarray, width: int) -> np.ndarray:
    """uint64 values -> (n, width) zero-padded ASCII digits."""
    v = values.astype(np.uint64, copy=True)
    mat = np.empty((len(v), width), dtype=np.uint8)
    for i in range(width - 1, -1, -1):
        mat[:, i] = (v % np.uint64(10)).astype(np.uint8) + 48
        v //= np.uint64(10)
    return mat


def digits_only(text: pa.Array) -> pa.Array:
    """Each value with everything but its ASCII digits left out ('(416) 555-0199' ->
    '4165550199'), in one pass over the bytes; nulls stay null."""
    text = text.cast(pa.large_string())
    n = len(text)
    if n == 0:
        return pa.array([], pa.large_string())
    bufs = text.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64, count=n + 1, offset=text.offset * 8)
    start, end = int(offsets[0]), int(offsets[-1])
    data = (
        np.frombuffer(bufs[2], dtype=np.uint8)[start:end] if end > start else np.zeros(0, np.uint8)
    )
    keep = (data - np.uint8(48)) < np.uint8(10)  # wraps below '0': one comparison
    rel = offsets - start
    # digits per value: a sum over each value's bytes (a trailing 0 lets the last one start
    # at the end; an empty value's sum would be its neighbour's first byte, so it is zeroed)
    counts = np.add.reduceat(np.append(keep, False).view(np.uint8), rel[:-1], dtype=np.int64)
    counts[rel[1:] == rel[:-1]] = 0
    new_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=new_offsets[1:])
    out = pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(new_offsets), pa.py_buffer(data[keep].tobytes())
    )
    if not text.null_count:
        return out
    return pc.if_else(text.is_valid(), out, pa.scalar(None, pa.large_string()))
