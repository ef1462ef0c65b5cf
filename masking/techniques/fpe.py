"""Keyed permutations of ``range(n)``, vectorised: unique outputs by construction.

Identifier techniques (SSN, SIN, card and phone numbers, passports, keyed numbers) read the
input as an index into the set of valid identifiers and map it through a keyed permutation of
that set, so two different valid inputs can never mask to the same output, whatever the
table size, and every worker computes the same mapping without talking to the others.

The permutation is a Feistel network of 8 rounds (as many as NIST's FF3-1), built like FF1
over the pairs ``(L, R)`` of ``range(a) x range(b)`` with ``a * b`` just above ``n``
(``x = L * b + R``): each round adds a pseudo-random function of one half to the other, modulo
its range, so it needs no rounding up to a power of two, and cycle-walking (mapping again
while the result is ``n`` or more) is rare. The round function is SipHash-2-4 of one 64-bit
word (the half shifted left by 8 bits, the round number below it), scaled onto the other
half's range, under a key derived from the workflow secret and a label naming the technique
and domain. ``_siphash.c`` runs it in C; the numpy version here is the reference and the
fallback. ``shift`` composes it with +1: ``P⁻¹(P(x) + 1 mod n)`` is again a permutation of
``range(n)`` and, being one cycle through all ``n`` values, never maps a value to itself.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from masking.techniques.keyed import derive
from masking.techniques.siphash import native_permute, siphash_words

ROUNDS = 8
_32 = np.uint64(32)


class Permutation:
    """A keyed permutation of ``range(size)`` (1 <= size < 2**62)."""

    def __init__(self, secret: bytes, label: str, size: int, native: bool = True):
        """``native``: use the C version when it is built (False: the numpy reference)."""
        self.native = native
        if not 1 <= size < 2**62:
            raise ValueError("a permutation domain holds 1 to 2**62 - 1 values")
        self.size = size
        self.a = max(2, math.isqrt(size - 1) + 1)  # L in range(a), R in range(b)
        self.b = max(2, -(-size // self.a))
        self._key = derive(secret, f"maskflow/fpe/v1/{label}/{size}")[:16]

    def _rounds(self, x: np.ndarray, backward: bool) -> np.ndarray:
        a, b = np.uint64(self.a), np.uint64(self.b)
        moduli = [a if i % 2 == 0 else b for i in range(ROUNDS)]

        def f(half: np.ndarray, rnd: int, modulus: np.uint64) -> np.ndarray:
            h = siphash_words([(half << np.uint64(8)) | np.uint64(rnd)], self._key)
            # the high 32 bits scaled onto range(modulus) (moduli stay below 2**31)
            return ((h >> _32) * modulus) >> _32

        left, right = x // b, x % b  # left in range(a), right in range(b)
        if backward:
            # undo round i: right was (old_left + F(old_right)) mod m_i, left was old_right
            for rnd in reversed(range(ROUNDS)):
                m = moduli[rnd]
                old_right = left
                old_left = right + m - f(old_right, rnd, m)
                old_left[old_left >= m] -= m
                left, right = old_left, old_right
        else:
            for rnd in range(ROUNDS):
                m = moduli[rnd]
                new = left + f(right, rnd, m)
                new[new >= m] -= m
                left, right = right, new
        return left * b + right

    def _walk(self, x: np.ndarray, backward: bool) -> np.ndarray:
        out = self._rounds(x, backward)
        limit = np.uint64(self.size)
        todo = np.flatnonzero(out >= limit)
        while len(todo):  # cycle-walking: rare, range(a) x range(b) barely exceeds size
            out[todo] = self._rounds(out[todo], backward)
            todo = todo[out[todo] >= limit]
        return out

    def _native(self, x: np.ndarray, mode: int) -> np.ndarray | None:
        if not self.native:
            return None
        return native_permute(x, self.size, self.a, self.b, self._key, mode)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.uint64)
        fast = self._native(x, 0)
        return fast if fast is not None else self._walk(x, backward=False)

    def backward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.uint64)
        fast = self._native(x, 1)
        return fast if fast is not None else self._walk(x, backward=True)

    def shift(self, x: np.ndarray) -> np.ndarray:
        """A permutation of ``range(size)`` without fixed points (for size > 1)."""
        x = np.asarray(x, dtype=np.uint64)
        fast = self._native(x, 2)
        if fast is not None:
            return fast
        y = self._walk(x, backward=False) + np.uint64(1)
        y[y == np.uint64(self.size)] = 0
        return self._walk(y, backward=True)


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
