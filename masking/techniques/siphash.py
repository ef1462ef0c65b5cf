"""SipHash-2-4 (Aumasson and Bernstein, 2012) over the values of an Arrow binary array.

This is the keyed hash behind every deterministic technique: a fixed, published algorithm
(64-bit output, 128-bit key), implemented here, so its output never depends on a library's
internal hashing. ``_siphash.c`` computes it in C (built with the package, without the
interpreter lock); the numpy version below is the reference the tests compare it with and
the fallback where the extension was not built. Both match the paper's test vectors.

The numpy version processes slices of rows sorted by length, so each step touches only the
rows that still have a full 8-byte word to absorb: the work is proportional to the total bytes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

try:
    from masking.techniques import _siphash as _native  # type: ignore[attr-defined]
except ImportError:  # a source tree without the built extension: the numpy version
    _native = None

_C0, _C1 = np.uint64(0x736F6D6570736575), np.uint64(0x646F72616E646F6D)
_C2, _C3 = np.uint64(0x6C7967656E657261), np.uint64(0x7465646279746573)
_FF = np.uint64(0xFF)
_CHUNK = 8192  # rows per pass: the state arrays stay in the CPU cache
_SHIFTS = {b: (np.uint64(b), np.uint64(64 - b)) for b in (13, 16, 17, 21, 32)}
_BYTE = np.arange(8, dtype=np.int64)


def _rotl(x: np.ndarray, b: int, tmp: np.ndarray) -> None:
    left, right = _SHIFTS[b]
    np.left_shift(x, left, out=tmp)
    np.right_shift(x, right, out=x)
    np.bitwise_or(x, tmp, out=x)


def _round(v0: np.ndarray, v1: np.ndarray, v2: np.ndarray, v3: np.ndarray, t: np.ndarray) -> None:
    v0 += v1
    _rotl(v1, 13, t)
    v1 ^= v0
    _rotl(v0, 32, t)
    v2 += v3
    _rotl(v3, 16, t)
    v3 ^= v2
    v0 += v3
    _rotl(v3, 21, t)
    v3 ^= v0
    v2 += v1
    _rotl(v1, 17, t)
    v1 ^= v2
    _rotl(v2, 32, t)


def key_words(key: bytes) -> tuple[int, int]:
    """The two little-endian 64-bit halves of a 16-byte key."""
    if len(key) != 16:
        raise ValueError("SipHash needs a 16-byte key")
    return int.from_bytes(key[:8], "little"), int.from_bytes(key[8:], "little")


def siphash24(values: pa.Array, key: bytes) -> np.ndarray:
    """SipHash-2-4 of each value's bytes (a binary or string array; nulls hash as empty)."""
    if _native is None:
        return siphash24_numpy(values, key)
    return native_text(values, key, rtrim=False)


def native_available() -> bool:
    return _native is not None


def native_text(values: pa.Array, key: bytes, *, rtrim: bool) -> np.ndarray:
    """The C path over a string or binary array's own buffers, without a copy; ``rtrim``
    leaves trailing spaces out, as the canonical form of text does."""
    typ = values.type
    if not (
        pa.types.is_string(typ)
        or pa.types.is_large_string(typ)
        or pa.types.is_binary(typ)
        or pa.types.is_large_binary(typ)
    ):
        values = values.cast(pa.large_binary())
        typ = values.type
    n = len(values)
    out = np.empty(n, dtype="<u8")
    if n == 0:
        return out.astype(np.uint64)
    width = 8 if pa.types.is_large_string(typ) or pa.types.is_large_binary(typ) else 4
    k0, k1 = key_words(key)
    bufs = values.buffers()
    offsets = np.frombuffer(bufs[1], dtype=f"<i{width}", count=n + 1, offset=values.offset * width)
    data = bufs[2] if bufs[2] is not None else b""
    _native.hash_many(data, offsets, k0, k1, out, width, int(rtrim))
    return out.astype(np.uint64, copy=False)


def native_fixed(kind: str, values: np.ndarray, key: bytes, per_day: int = 1) -> np.ndarray | None:
    """The C fast path for fixed-width values (``hash_int64`` / ``hash_ticks`` in
    ``_siphash.c``): the hash of their canonical text without building it in Arrow. None when
    the extension is missing or a date lies outside years 1-9999 (use the generic path)."""
    if _native is None:
        return None
    raw = np.ascontiguousarray(values, dtype="<i8")
    out = np.empty(len(raw), dtype="<u8")
    k0, k1 = key_words(key)
    if kind == "int":
        _native.hash_int64(raw, k0, k1, out)
    elif not _native.hash_ticks(raw, per_day, k0, k1, out):
        return None
    return out.astype(np.uint64, copy=False)


def siphash_words(words: list[np.ndarray], key: bytes) -> np.ndarray:
    """SipHash-2-4 of messages made of whole 64-bit little-endian words (the same value as
    hashing their 8 * len(words) bytes), vectorised over rows."""
    k0, k1 = (np.uint64(k) for k in key_words(key))
    m = len(words[0])
    v0 = np.full(m, _C0 ^ k0, dtype=np.uint64)
    v1 = np.full(m, _C1 ^ k1, dtype=np.uint64)
    v2 = np.full(m, _C2 ^ k0, dtype=np.uint64)
    v3 = np.full(m, _C3 ^ k1, dtype=np.uint64)
    t = np.empty(m, dtype=np.uint64)
    last = np.uint64((8 * len(words)) & 0xFF) << np.uint64(56)
    for w in [*(np.asarray(x, dtype=np.uint64) for x in words), np.full(m, last)]:
        v3 ^= w
        _round(v0, v1, v2, v3, t)
        _round(v0, v1, v2, v3, t)
        v0 ^= w
    v2 ^= _FF
    for _ in range(4):
        _round(v0, v1, v2, v3, t)
    return v0 ^ v1 ^ v2 ^ v3


def native_permute(
    values: np.ndarray, size: int, a: int, b: int, key: bytes, mode: int
) -> np.ndarray | None:
    """The C path of ``fpe.Permutation`` (mode 0 forward, 1 backward, 2 shift)."""
    if _native is None:
        return None
    raw = np.ascontiguousarray(values, dtype="<u8")
    out = np.empty(len(raw), dtype="<u8")
    k0, k1 = key_words(key)
    _native.permute(raw, size, a, b, k0, k1, mode, out)
    return out.astype(np.uint64, copy=False)


def _large(values: pa.Array) -> pa.Array:
    if not (pa.types.is_large_binary(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.large_binary())
    return values


def siphash24_numpy(values: pa.Array, key: bytes) -> np.ndarray:
    """The reference implementation, vectorised in numpy."""
    values = _large(values)
    n = len(values)
    out = np.empty(n, dtype=np.uint64)
    if n == 0:
        return out
    k0, k1 = (np.uint64(k) for k in key_words(key))
    bufs = values.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64, count=n + 1, offset=values.offset * 8)
    first, last = int(offsets[0]), int(offsets[-1])
    data = np.zeros(last - first + 8, dtype=np.uint8)
    if last > first:
        data[: last - first] = np.frombuffer(bufs[2], dtype=np.uint8)[first:last]
    starts = offsets[:-1] - first
    lengths = offsets[1:] - offsets[:-1]
    for lo in range(0, n, _CHUNK):
        hi = min(lo + _CHUNK, n)
        out[lo:hi] = _hash_rows(data, starts[lo:hi], lengths[lo:hi], k0, k1)
    return out


def _hash_rows(
    data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, k0: np.uint64, k1: np.uint64
) -> np.ndarray:
    m = len(starts)
    words = lengths // 8
    order = np.argsort(-words, kind="stable")
    words, starts, lengths = words[order], starts[order], lengths[order]
    v0 = np.full(m, _C0 ^ k0, dtype=np.uint64)
    v1 = np.full(m, _C1 ^ k1, dtype=np.uint64)
    v2 = np.full(m, _C2 ^ k0, dtype=np.uint64)
    v3 = np.full(m, _C3 ^ k1, dtype=np.uint64)
    t = np.empty(m, dtype=np.uint64)
    most = int(words[0]) if m else 0
    # rows with more than j full words form a prefix, since rows are sorted by word count
    active = np.searchsorted(-words, -np.arange(most), side="left") if most else np.empty(0, int)
    for j in range(most):
        a = int(active[j])
        w = data[starts[:a, None] + (8 * j) + _BYTE].view("<u8").reshape(a)
        s0, s1, s2, s3, st = v0[:a], v1[:a], v2[:a], v3[:a], t[:a]
        s3 ^= w
        _round(s0, s1, s2, s3, st)
        _round(s0, s1, s2, s3, st)
        s0 ^= w
    # last word: the 0-7 remaining bytes, and the length's low byte in the top byte
    rest = lengths - words * 8
    tail = data[(starts + words * 8)[:, None] + _BYTE]
    tail[_BYTE[None, :] >= rest[:, None]] = 0
    w = tail.view("<u8").reshape(m) | (lengths.astype(np.uint64) << np.uint64(56))
    v3 ^= w
    _round(v0, v1, v2, v3, t)
    _round(v0, v1, v2, v3, t)
    v0 ^= w
    v2 ^= _FF
    for _ in range(4):
        _round(v0, v1, v2, v3, t)
    result = np.empty(m, dtype=np.uint64)
    result[order] = v0 ^ v1 ^ v2 ^ v3
    return result
