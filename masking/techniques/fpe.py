"""Keyed permutations of ``range(n)``, vectorised: unique outputs by construction.

Identifier techniques (SSN, SIN, card and phone numbers, passports, keyed numbers) read the
input as an index into the set of valid identifiers and map it through a keyed permutation of
that set, so two different valid inputs can never mask to the same output, whatever the
table size, and every worker computes the same mapping without talking to the others.

The permutation is a balanced Feistel network of 10 rounds over the smallest even number of
bits that holds ``n``, with cycle-walking to stay below ``n`` (the construction of FF1/FF3).
Its round function is AES-128 (``cryptography``) of the half-block and the round number,
under a key derived from the workflow secret and a label naming the technique and domain.
``shift`` composes it with +1: ``P⁻¹(P(x) + 1 mod n)`` is again a permutation of ``range(n)``
and, being one cycle through all ``n`` values, never maps a value to itself.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from masking.techniques.keyed import derive

ROUNDS = 10


class Permutation:
    """A keyed permutation of ``range(size)`` (1 <= size < 2**64)."""

    def __init__(self, secret: bytes, label: str, size: int):
        if not 1 <= size < 2**64:
            raise ValueError("a permutation domain holds 1 to 2**64 - 1 values")
        self.size = size
        bits = max(2, (size - 1).bit_length())
        self.half = (bits + 1) // 2
        self.mask = np.uint64((1 << self.half) - 1)
        self._key = derive(secret, f"maskflow/fpe/v1/{label}/{size}")[:16]

    def _rounds(self, x: np.ndarray, backward: bool) -> np.ndarray:
        # a fresh cipher context per call: contexts are not safe to share between threads
        aes = Cipher(algorithms.AES(self._key), modes.ECB()).encryptor()
        h = np.uint64(self.half)
        block = np.zeros((len(x), 2), dtype="<u8")

        def f(half: np.ndarray, rnd: int) -> np.ndarray:
            block[:, 0] = half
            block[:, 1] = rnd
            enc = np.frombuffer(aes.update(block.tobytes()), dtype="<u8")
            return enc[0::2] & self.mask

        left, right = x >> h, x & self.mask
        if backward:
            for rnd in reversed(range(ROUNDS)):
                left, right = right ^ f(left, rnd), left
        else:
            for rnd in range(ROUNDS):
                left, right = right, left ^ f(right, rnd)
        return (left << h) | right

    def _walk(self, x: np.ndarray, backward: bool) -> np.ndarray:
        out = self._rounds(x, backward)
        limit = np.uint64(self.size)
        todo = np.flatnonzero(out >= limit)
        while len(todo):  # cycle-walking: a few rounds at most, the block is < 4 * size
            out[todo] = self._rounds(out[todo], backward)
            todo = todo[out[todo] >= limit]
        return out

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._walk(np.asarray(x, dtype=np.uint64), backward=False)

    def backward(self, x: np.ndarray) -> np.ndarray:
        return self._walk(np.asarray(x, dtype=np.uint64), backward=True)

    def shift(self, x: np.ndarray) -> np.ndarray:
        """A permutation of ``range(size)`` without fixed points (for size > 1)."""
        y = self.forward(x) + np.uint64(1)
        y[y == np.uint64(self.size)] = 0
        return self.backward(y)


@lru_cache(maxsize=256)
def permutation(secret: bytes, label: str, size: int) -> Permutation:
    return Permutation(secret, label, size)


def renumber(
    m,  # the ColumnMasker rendering this batch
    attempt: np.ndarray,
    valid: np.ndarray,
    index: np.ndarray,
    size: int,
    label: str,
    fallback: np.ndarray,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Each row's index into a set of ``size`` identifiers.

    Deterministic mode: a valid input's own index goes through the keyed permutation without
    fixed points; other inputs take ``fallback`` (drawn from their key). Random mode: rows
    are numbered by their position in the run through a seeded permutation, so they are
    distinct for up to ``size`` rows. Second tries (an output equal to its input) take the
    fallback. ``rows``: the positions of these values within the batch, when they are a
    subset of it."""
    out = np.asarray(fallback, dtype=np.uint64).copy()
    if attempt.any():
        return out
    if m.keyed:
        rows = np.flatnonzero(valid)
        if len(rows):
            out[rows] = permutation(m.ctx.secret, label, size).shift(index[rows])
        return out
    seed = m.ctx.seed.to_bytes(16, "little", signed=True)
    within = np.arange(len(out)) if rows is None else np.asarray(rows)
    positions = (m.first_position + within).astype(np.uint64)
    return permutation(seed, label, size).forward(positions % np.uint64(size))
