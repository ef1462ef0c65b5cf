"""Keyed hashing helpers shared by every technique.

Two tiers, on purpose:

* ``row_keys`` gives one 64-bit key per value, vectorised (polars' hash seeded with 64
  secret-derived bits). It only *indexes* pools and shapes synthetic values,
  so it needs speed and a secret-dependent seed, not cryptographic strength.
* ``hmac_digest`` (BLAKE2b in keyed mode) feeds outputs that must resist guessing: the
  ``hash`` technique and the tokenisation keys.

Determinism across processes and runs holds for a given engine version set (polars' hash is
stable within a polars version); pin dependencies when masked values must join across runs.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
import polars as pl
import pyarrow as pa

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


def value_hash(values: pa.Array, seed: int) -> np.ndarray:
    """Seeded 64-bit hash of each value (any arrow type); nulls hash to a constant."""
    series = pl.from_arrow(values)
    if not isinstance(series, pl.Series):  # pragma: no cover - defensive for chunked input
        series = series.to_series()
    return series.hash(seed & MASK64).to_numpy().astype(np.uint64, copy=False)


def row_keys(values: pa.Array, secret: bytes, label: str) -> np.ndarray:
    """Deterministic keys: same value + same secret + same label -> same key, everywhere."""
    # the seed already carries 64 secret-derived bits; an extra mixing pass would only cost time
    return value_hash(values, derive_int(secret, label + "/seed"))


def stream_keys(n: int, offset: int, seed: int, label: str) -> np.ndarray:
    """Random-mode keys: reproducible from ``seed`` and the row position within the run."""
    base = derive_int(seed.to_bytes(16, "little", signed=True), label)
    return mix64(np.arange(offset, offset + n, dtype=np.uint64), base)


def with_attempt(keys: np.ndarray, attempt: np.ndarray | int) -> np.ndarray:
    """Re-draw keys for collisions: attempt 0 leaves the key unchanged."""
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


def digits_to_str(mat: np.ndarray) -> np.ndarray:
    """Rows of digits -> numpy unicode array, vectorised via a byte view."""
    n, w = mat.shape
    if n == 0:
        return np.array([], dtype=f"<U{max(w, 1)}")
    b = (mat.astype(np.uint8) + ord("0")).tobytes()
    return np.frombuffer(b, dtype=f"S{w}").astype(f"<U{w}")


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
