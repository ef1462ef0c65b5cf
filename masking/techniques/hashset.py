"""Run-wide sets of 64-bit hashes (optionally mapping each to a 64-bit payload), vectorised.

Layout: one large sorted *main* run plus a few small sorted runs (LSM style). New keys land in
a small run; small runs merge with each other (ratio 2) and the largest one is merged into
the main run, in place, once it reaches 1/``FLUSH`` of it. The main run grows with a
reallocation and its elements are moved back to front, a chunk at a time, so a merge needs
only chunk-sized scratch memory: the peak stays close to the 8 (or 16) bytes per key held.

Lookups sort their queries once, so every binary search walks each run forwards.
"""

from __future__ import annotations

import numpy as np

FLUSH = 12
_MIN_CHUNK = 1 << 14
_EMPTY = np.empty(0, dtype=np.uint64)


def _owned(a: np.ndarray) -> np.ndarray:
    """A contiguous uint64 array owning its buffer (so it can be resized in place)."""
    a = np.asarray(a, dtype=np.uint64)
    if a.flags.owndata and a.flags.c_contiguous and a.flags.writeable:
        return a
    return a.copy()


def _shift(sa: np.ndarray, start: int, end: int) -> np.ndarray:
    """For i in [start, end): how many run keys go before element i of the other run, given
    ``sa`` (sorted insertion points of the run's keys into the other run, side='right')."""
    lo = int(np.searchsorted(sa, start, side="left"))
    hi = int(np.searchsorted(sa, end, side="left"))
    counts = np.bincount(sa[lo:hi] - start, minlength=end - start)
    out = np.cumsum(counts, dtype=np.int64)
    out += lo
    return out


def _merge(
    ak: np.ndarray, av: np.ndarray | None, bk: np.ndarray, bv: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Merge two sorted runs into one preallocated output (ties: ``a`` first)."""
    sa = np.searchsorted(ak, bk, side="right")
    pb = sa + np.arange(len(bk))
    pa_ = _shift(sa, 0, len(ak))
    pa_ += np.arange(len(ak))
    out = np.empty(len(ak) + len(bk), dtype=np.uint64)
    out[pa_] = ak
    out[pb] = bk
    if av is None or bv is None:
        return out, None
    vals = np.empty(len(out), dtype=np.uint64)
    vals[pa_] = av
    vals[pb] = bv
    return out, vals


class SortedHashes:
    """A multiset of uint64 keys; with ``payload`` each key carries a uint64 value.

    When the same key is inserted more than once, ``lookup`` returns one of its values
    (callers that need a single owner per key insert each key once)."""

    def __init__(self, payload: bool = False) -> None:
        self.payload = payload
        self.count = 0
        self._keys = _EMPTY.copy()
        self._vals: np.ndarray | None = _EMPTY.copy() if payload else None
        self._runs: list[tuple[np.ndarray, np.ndarray | None]] = []

    @property
    def nbytes(self) -> int:
        arrays = [self._keys, self._vals, *(a for run in self._runs for a in run)]
        return sum(a.nbytes for a in arrays if a is not None)

    def runs(self) -> list[tuple[np.ndarray, np.ndarray | None]]:
        return [(self._keys, self._vals), *self._runs]

    # -- queries --------------------------------------------------------------------------
    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found, value) per key; value is 0 where not found or without payload."""
        keys = np.asarray(keys, dtype=np.uint64)
        n = len(keys)
        found = np.zeros(n, dtype=bool)
        vals = np.zeros(n, dtype=np.uint64)
        if not n or not self.count:
            return found, vals
        order = np.argsort(keys)
        sk = keys[order]
        s_found = np.zeros(n, dtype=bool)
        s_vals = np.zeros(n, dtype=np.uint64)
        for rk, rv in self.runs():
            if not len(rk):
                continue
            pos = np.searchsorted(rk, sk)
            np.minimum(pos, len(rk) - 1, out=pos)
            hit = rk[pos] == sk
            hit &= ~s_found
            if rv is not None:
                s_vals[hit] = rv[pos[hit]]
            s_found |= hit
        found[order] = s_found
        vals[order] = s_vals
        return found, vals

    def contains(self, keys: np.ndarray) -> np.ndarray:
        return self.lookup(keys)[0]

    # -- updates --------------------------------------------------------------------------
    def insert(self, keys: np.ndarray, vals: np.ndarray | None = None) -> None:
        keys = np.asarray(keys, dtype=np.uint64)
        if not len(keys):
            return
        if self.payload and (vals is None or len(vals) != len(keys)):
            raise ValueError("each key needs a value")
        order = np.argsort(keys)
        run_v = np.asarray(vals, dtype=np.uint64)[order] if self.payload else None
        self._runs.append((keys[order], run_v))
        self.count += len(keys)
        runs = self._runs
        while len(runs) > 1 and len(runs[-1][0]) * 2 >= len(runs[-2][0]):
            (bk, bv), (ak, av) = runs.pop(), runs.pop()
            runs.append(_merge(ak, av, bk, bv))
        if runs and len(runs[0][0]) * FLUSH >= len(self._keys):
            self._absorb(*runs.pop(0))

    def _absorb(self, bk: np.ndarray, bv: np.ndarray | None) -> None:
        """Merge a sorted run into the main run in place (ties: main first)."""
        m, s = len(self._keys), len(bk)
        if not m:
            self._keys = _owned(bk)
            self._vals = _owned(bv) if bv is not None else None
            return
        sa = np.searchsorted(self._keys, bk, side="right")
        # the main arrays are never exposed as views, so growing them in place is safe
        self._keys.resize(m + s, refcheck=False)
        if self._vals is not None:
            self._vals.resize(m + s, refcheck=False)
        # element i of main moves up by the number of run keys below it; going back to front,
        # a chunk only ever lands on slots already vacated
        step = max(_MIN_CHUNK, m >> 6)  # scratch stays a small fraction of the set
        for end in range(m, 0, -step):
            start = max(0, end - step)
            ck = self._keys[start:end].copy()
            dest = _shift(sa, start, end)
            dest += np.arange(start, end)
            self._keys[dest] = ck
            if self._vals is not None:
                cv = self._vals[start:end].copy()
                self._vals[dest] = cv
        pb = sa
        pb += np.arange(s)
        self._keys[pb] = bk
        if self._vals is not None and bv is not None:
            self._vals[pb] = bv
