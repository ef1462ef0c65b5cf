"""Keyed hashing shared by every technique: fixed algorithms, documented, stable.

* ``row_keys`` gives each value a 64-bit key: SipHash-2-4 (``siphash.py``) of the value's
  canonical form (``canonical.py``) under a 128-bit key derived from the workflow secret and
  the technique's name. Nothing else enters it: not the table, the column, the batch, the row
  order or the driver's Arrow encoding. It is the only source of per-value randomness.
* ``derive`` makes those sub-keys: keyed BLAKE2b of a label, one key per purpose.
* ``mix64`` (the SplitMix64 finaliser, a bijection on 64-bit integers) and the helpers built on
  it (``below``, ``uniform``, ``digits``) spread one key into several independent draws.
* ``hmac_digest`` (keyed BLAKE2b) feeds outputs that must resist guessing on their own.

Every one of these is implemented here or in the standard library, never taken from a
library's internal hash, so masked values stay the same after an upgrade (a golden test pins
them).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)

from masking.schema import TypeCategory
from masking.techniques.canonical import canonical
from masking.techniques.siphash import native_available, native_fixed, native_text, siphash24

KEY_SCHEME = "maskflow/keys/v1"  # part of every derived key: changing it re-keys everything
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)
MASK64 = (1 << 64) - 1


@lru_cache(maxsize=4096)
def derive(secret: bytes, label: str) -> bytes:
    """A 32-byte sub-key: one per purpose, so keys for different techniques are independent."""
    return hashlib.blake2b(label.encode(), key=secret[:64] or b"\0", digest_size=32).digest()


def derive_int(secret: bytes, label: str) -> int:
    return int.from_bytes(derive(secret, label)[:8], "little")


def mix64(x: np.ndarray, key: int) -> np.ndarray:
    """SplitMix64 finaliser over ``x ^ key``: a bijection on uint64, vectorised."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64, copy=True) ^ np.uint64(key & MASK64)
        z += _GOLD
        z ^= z >> np.uint64(30)
        z *= _M1
        z ^= z >> np.uint64(27)
        z *= _M2
        z ^= z >> np.uint64(31)
    return z


def row_keys(
    values: pa.Array, secret: bytes, label: str, category: TypeCategory | str | None = None
) -> np.ndarray:
    """Deterministic keys: the same canonical value, secret and label give the same key in
    every table, column, batch, run, process and library version."""
    key = derive(secret, f"{KEY_SCHEME}/{label}")[:16]
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type) and not values.null_count:
        # each distinct value once, then spread over the rows
        keys = row_keys(values.dictionary, secret, label, category)
        return keys[values.indices.to_numpy(zero_copy_only=False)]
    fast = _fixed_width_keys(values, key) if category != TypeCategory.UUID else None
    if fast is not None:
        return fast
    return siphash24(canonical(values, category), key)


_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}


def _fixed_width_keys(values: pa.Array, key: bytes) -> np.ndarray | None:
    """Text, integers, dates and date-times hashed in C from their canonical text (the same
    bytes canonical() gives, tested); None where that path does not apply."""
    typ = values.type
    if values.null_count or not len(values) or not native_available():
        return None
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return native_text(values, key, rtrim=True)
    if pa.types.is_integer(typ):
        if pa.types.is_uint64(typ) and pa.compute.max(values).as_py() >= 2**63:
            return None
        ints = values.cast(pa.int64()).to_numpy(zero_copy_only=False)
        return native_fixed("int", ints, key)
    if pa.types.is_date(typ):
        days = values.cast(pa.date32()).cast(pa.int32()).to_numpy(zero_copy_only=False)
        return native_fixed("ticks", days.astype(np.int64), key, per_day=1)
    if pa.types.is_timestamp(typ):
        ticks = values.cast(pa.int64()).to_numpy(zero_copy_only=False)
        return native_fixed("ticks", ticks, key, per_day=_PER_DAY[typ.unit])
    return None


def stream_keys(n: int, offset: int, seed: int, label: str) -> np.ndarray:
    """Random-mode keys: reproducible from ``seed`` and the row position within the run."""
    base = derive_int(seed.to_bytes(16, "little", signed=True), label)
    return mix64(np.arange(offset, offset + n, dtype=np.uint64), base)


def with_attempt(keys: np.ndarray, attempt: np.ndarray | int) -> np.ndarray:
    """The key of a value's next try when its output equalled its input (attempt 0 leaves
    the key unchanged); a function of the value's own key only."""
    att = np.asarray(attempt, dtype=np.uint64)
    if not att.any():
        return keys
    redrawn = mix64(keys ^ (att * _GOLD), 0x5DEECE66D)
    return np.where(att == 0, keys, redrawn)


def uniform(keys: np.ndarray, salt: int = 0) -> np.ndarray:
    """A float in [0, 1) per key, with 53 bits of precision."""
    k = mix64(keys, salt) if salt else keys
    return (k >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def below(keys: np.ndarray, n: int, salt: int = 0) -> np.ndarray:
    """An int in [0, n) per key (n < 2**63); modulo bias is below 2**-40 for n < 2**24."""
    k = mix64(keys, salt) if salt else keys
    return (k % np.uint64(max(n, 1))).astype(np.int64)


def hmac_digest(secret: bytes, label: str, data: bytes, size: int = 32) -> bytes:
    return hashlib.blake2b(data, key=derive(secret, label), digest_size=size).digest()


def digits(keys: np.ndarray, count: int, salt: int = 0) -> np.ndarray:
    """A (n, count) int8 matrix of decimal digits drawn from the keys."""
    out = np.empty((len(keys), count), dtype=np.int8)
    k = mix64(keys, salt or 0xD161)
    for i in range(count):
        if i and i % 18 == 0:
            k = mix64(k, i)
        out[:, i] = (k % np.uint64(10)).astype(np.int8)
        k = k // np.uint64(10)
    return out


def luhn_check_digit(mat: np.ndarray) -> np.ndarray:
    """Check digit making ``mat`` + digit Luhn-valid (mat holds the payload, left to right)."""
    m = mat.astype(np.int64)
    w = m.shape[1]
    # the payload's rightmost digit is doubled once the check digit is appended
    double = (np.arange(w)[::-1] % 2) == 0
    d = np.where(double, m * 2, m)
    d = np.where(d > 9, d - 9, d)
    return ((10 - d.sum(axis=1) % 10) % 10).astype(np.int8)


def luhn_valid(number: str) -> bool:
    ds = [int(c) for c in number if c.isdigit()]
    if len(ds) < 2:
        return False
    total = 0
    for i, d in enumerate(reversed(ds)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
