"""Uniqueness of a column across a whole table, in bounded memory.

A unique column's values are remembered as 64-bit hashes, each with the hash of the source
value that produced it (its *owner*), so a duplicate can be explained. Both are seeded with a
secret each validator draws and keeps in memory, so the files cannot be checked against
guessed source values. The first
``MEMORY_KEYS`` values stay in memory (``owner_map``: 36 MB for a full column) and every batch
is checked against them as it is read. Values after that go to ``HashSpill``: hash-partitioned
files in a private temporary directory, checked once the table's last batch is read, a
partition at a time. A run's memory then stays flat however many rows a table has; its disk
use is 28 bytes per spilled value, freed when the table is done.

A duplicate is always reported at its later row, whichever of the two checks finds it. A
64-bit collision between different values reads as a duplicate (odds about n²/2⁶⁵).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from masking.techniques.hashset import owner_map

MEMORY_KEYS = 1 << 20  # per column: 36 MB when full, 54 MB while the table last doubles
PARTITIONS = 64  # a partition holds 1/64 of the spilled values when it is checked
_RECORD = np.dtype([("h", "<u8"), ("owner", "<u8"), ("row", "<u8"), ("batch", "<u4")])
EXISTING = np.uint64(0)  # owner of the values already in the target (append mode)


@dataclass(frozen=True)
class Duplicate:
    """The later of two rows with the same value: its 1-based row among the rows read, its
    batch, its owner and the owner of the earlier row (EXISTING for a row already in the
    target)."""

    row: int
    batch: int
    owner: np.uint64
    other: np.uint64


class HashSpill:
    """Append-only records (hash, owner, row, batch), split by the hash's top bits."""

    def __init__(self, partitions: int = PARTITIONS) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="maskflow-unique-"))
        self._shift = np.uint64(64 - (partitions.bit_length() - 1))
        self._files: list[BinaryIO] = [
            open(self._dir / f"{i:03d}", "wb")
            for i in range(partitions)  # noqa: SIM115
        ]
        self.count = 0

    def add(self, h: np.ndarray, owner: np.ndarray, rows: np.ndarray, batch: int) -> None:
        if not len(h):
            return
        rec = np.empty(len(h), dtype=_RECORD)
        rec["h"], rec["owner"], rec["row"], rec["batch"] = h, owner, rows, batch
        part = (rec["h"] >> self._shift).astype(np.intp)
        order = np.argsort(part, kind="stable")
        rec, part = rec[order], part[order]
        bounds = np.searchsorted(part, np.arange(len(self._files) + 1))
        for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            if hi > lo:
                rec[lo:hi].tofile(self._files[i])
        self.count += len(h)

    def first_duplicate(self) -> Duplicate | None:
        """The duplicate with the lowest later row, over every partition."""
        best: Duplicate | None = None
        for f in self._files:
            f.flush()
            rec = np.fromfile(f.name, dtype=_RECORD)
            if len(rec) < 2:
                continue
            rec = rec[np.lexsort((rec["row"], rec["h"]))]
            same = np.flatnonzero(rec["h"][1:] == rec["h"][:-1]) + 1
            same = same[rec["owner"][same] != EXISTING]  # rows read, not two existing ones
            if not len(same):
                continue
            i = int(same[np.argmin(rec["row"][same])])
            if best is None or int(rec["row"][i]) < best.row:
                best = Duplicate(
                    int(rec["row"][i]), int(rec["batch"][i]), rec["owner"][i], rec["owner"][i - 1]
                )
        return best

    def close(self) -> None:
        for f in self._files:
            f.close()
        shutil.rmtree(self._dir, ignore_errors=True)


class Owners:
    """Value hash → owner for one unique column: in memory up to ``limit`` values, spilled
    after that. ``lookup`` sees the values in memory; ``finish`` checks the spilled ones."""

    def __init__(self, limit: int | None = None, expected: int = 0) -> None:
        """`expected`: how many values are coming, if known: the memory for as many of them
        as stay in memory is reserved now."""
        self._map = owner_map()
        self._limit = MEMORY_KEYS if limit is None else limit
        self._spill: HashSpill | None = None
        if expected > 0:
            self._map.reserve(min(expected, self._limit))

    @property
    def spilled(self) -> int:
        return self._spill.count if self._spill is not None else 0

    def lookup(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._map.lookup(h)

    def fits(self, n: int) -> bool:
        """Whether `n` more values stay in memory (nothing has spilled yet)."""
        return not self.spilled and self._map.count + n <= self._limit

    def add_new(self, h: np.ndarray, owners: np.ndarray) -> tuple[int, np.uint64] | None:
        """Remembers values that ``fits``, in order, up to the first one seen before (in
        memory or earlier among `h`): then its index and the owner of the value seen before.
        None when none was."""
        return self._map.add_new(h, owners)

    def add(self, h: np.ndarray, owners: np.ndarray, rows: np.ndarray, batch: int) -> None:
        """Remember values; `rows` are their 1-based rows among the rows read (0 for values
        already in the target), `batch` the batch they came in."""
        room = max(0, self._limit - self._map.count)
        if room:
            self._map.insert(h[:room], owners[:room])
        if len(h) > room:
            if self._spill is None:
                self._spill = HashSpill()
            self._spill.add(h[room:], owners[room:], rows[room:], batch)

    def finish(self) -> Duplicate | None:
        """A duplicate among the spilled values (those in memory were checked as they came)."""
        return self._spill.first_duplicate() if self._spill is not None else None

    def close(self) -> None:
        if self._spill is not None:
            self._spill.close()
            self._spill = None
