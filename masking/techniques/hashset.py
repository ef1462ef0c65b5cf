"""Run-wide sets of 64-bit hashes (optionally mapping each to a 64-bit payload), vectorised.

``HashTable`` (``_hashset.c``: open addressing, built with the package, without the
interpreter lock) maps each key to the first value it came with, in 34 to 68 bytes per key
(17 a slot: the key, its value and a flag; at least half the slots are free).
``SortedHashes``, in numpy, is the reference it is tested against and the fallback where the
extension was not built; ``owner_map`` returns whichever is there.

``SortedHashes``' layout: one large sorted *main* run plus a few small sorted runs (LSM
style). New keys land in a small run; small runs merge with each other (ratio 2) and the
largest one is merged into the main run, in place, once it reaches 1/``FLUSH`` of it. The
main run grows with a reallocation and its elements are moved back to front, a chunk at a
time, so a merge needs only chunk-sized scratch memory: the peak stays close to the 8 (or
16) bytes per key held.

Lookups sort their queries once, so every binary search walks each run forwards.
"""

from __future__ import annotations

import numpy as np

try:
    from masking.techniques import _hashset as _native  # type: ignore[attr-defined]
except ImportError:  # a source tree without the built extension: SortedHashes alone
    _native = None

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

    def reserve(self, n: int) -> None:
        """HashTable's reservation; sorted runs grow by merging, with nothing to allocate
        ahead."""

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

    def add_new(self, keys: np.ndarray, vals: np.ndarray) -> tuple[int, np.uint64] | None:
        """``HashTable.add_new``, in numpy."""
        keys = np.asarray(keys, dtype=np.uint64)
        vals = np.asarray(vals, dtype=np.uint64)
        found, prior = self.lookup(keys)
        order = np.argsort(keys, kind="stable")  # equal keys in their order
        sk = keys[order]
        repeat = np.zeros(len(keys), dtype=bool)
        repeat[order[1:]] = sk[1:] == sk[:-1]
        bad = np.flatnonzero(found | repeat)
        if not len(bad):
            self.insert(keys, vals)
            return None
        i = int(bad[0])  # the second of its key: the first is in the table or keys[:i]
        self.insert(keys[:i], vals[:i])
        if found[i]:
            return i, prior[i]
        return i, vals[int(np.flatnonzero(keys[:i] == keys[i])[0])]

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


class HashTable:
    """A map of uint64 keys to uint64 values in ``_hashset.c``; a key inserted again keeps its
    first value (``count`` counts distinct keys). The table doubles as it fills, so at most
    half its slots are taken."""

    MIN_BITS = 10

    def __init__(self) -> None:
        if _native is None:
            raise RuntimeError("the _hashset extension is not built")
        self.count = 0
        self._alloc(self.MIN_BITS)

    def _alloc(self, bits: int) -> None:
        self._bits = bits
        self._slots = np.zeros(2 << bits, dtype=np.uint64)
        self._used = np.zeros(1 << bits, dtype=np.uint8)

    @property
    def nbytes(self) -> int:
        return self._slots.nbytes + self._used.nbytes

    def _reserve(self, extra: int) -> None:
        bits = self._bits
        while (self.count + extra) * 2 > 1 << bits:
            bits += 1
        if bits != self._bits:
            old = (self._slots, self._used, self._bits)
            self._alloc(bits)
            _native.rehash(*old, self._slots, self._used, self._bits)

    def reserve(self, n: int) -> None:
        """Room for `n` keys in all, allocated now: a table that will fill up is not rehashed
        on its way there (each doubling costs a pass over it and, meanwhile, half again its
        memory)."""
        self._reserve(max(0, n - self.count))

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found, value) per key; value is 0 where not found."""
        keys = np.ascontiguousarray(keys, dtype=np.uint64)
        found = np.zeros(len(keys), dtype=np.uint8)
        vals = np.zeros(len(keys), dtype=np.uint64)
        _native.lookup(self._slots, self._used, self._bits, keys, found, vals)
        return found.view(bool), vals

    def contains(self, keys: np.ndarray) -> np.ndarray:
        return self.lookup(keys)[0]

    def _insert(self, keys: np.ndarray, vals: np.ndarray, stop: bool) -> tuple[int, int]:
        keys = np.ascontiguousarray(keys, dtype=np.uint64)
        vals = np.ascontiguousarray(vals, dtype=np.uint64)
        if len(vals) != len(keys):
            raise ValueError("each key needs a value")
        self._reserve(len(keys))
        added, index, prior = _native.insert(self._slots, self._used, self._bits, keys, vals, stop)
        self.count += added
        return index, prior

    def insert(self, keys: np.ndarray, vals: np.ndarray) -> None:
        self._insert(keys, vals, stop=False)

    def add_new(self, keys: np.ndarray, vals: np.ndarray) -> tuple[int, np.uint64] | None:
        """Adds keys in order up to the first one already there, in the table or earlier
        among ``keys``: then (its index, the value its key has) and the rest is not added.
        None when every key was new (all added)."""
        index, prior = self._insert(keys, vals, stop=True)
        return None if index < 0 else (index, np.uint64(prior))


def owner_map() -> HashTable | SortedHashes:
    """A key → value map for uniqueness checks: the C table where it is built."""
    return HashTable() if _native is not None else SortedHashes(payload=True)
