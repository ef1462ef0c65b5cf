"""Validate stage: every batch is checked against the target before it is written.

Rules: `type` (the value converts to the target column's Arrow type), `precision` (decimals
fit precision/scale), `not_null`, `max_length`, `unique` (single-column keys, within the run
and, in append mode, against rows already in the target; past ``masking.spill.MEMORY_KEYS``
values a column's values spill to disk and are checked after the table's last batch). Errors
name table, column, a row ordinal and the rule; never a value."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from masking.dialects.arrowconv import arrow_type
from masking.dialects.base import Dialect
from masking.dialects.common import orphans_sql
from masking.errors import ValidationFailed
from masking.extract import ResolvedTable, table_key
from masking.schema import ColumnInfo, TypeCategory
from masking.spill import EXISTING, Owners
from masking.techniques.siphash import native_available, native_text

_HASH_KEY = bytes(range(16))  # tests only: a validator draws a key of its own


def row_key(offset: int, index: int, batch_no: int) -> str:
    """1-based ordinal of the row among the rows read for the table, and its batch."""
    return f"row #{offset + index + 1} (batch {batch_no})"


def _first_true(mask: pa.Array) -> int | None:
    idx = pc.index(mask.fill_null(False), True).as_py()
    return None if idx < 0 else int(idx)


def _rows(valid: np.ndarray, offset: int) -> np.ndarray:
    """1-based rows, among the rows read, of a batch's non-NULL values."""
    return np.flatnonzero(valid).astype(np.uint64) + np.uint64(offset + 1)


def _repeats(h: np.ndarray) -> bool:
    """Whether a hash occurs twice among `h`."""
    if len(h) < 2:
        return False
    s = np.sort(h)
    return bool((s[1:] == s[:-1]).any())


def _hashes(values: pa.Array, key: bytes = _HASH_KEY) -> np.ndarray:
    """A keyed 64-bit hash per value: SipHash-2-4 of the bytes of text and binary values (in
    C, without a copy), polars' seeded hash of the others."""
    if native_available() and (
        pa.types.is_string(values.type)
        or pa.types.is_large_string(values.type)
        or pa.types.is_binary(values.type)
        or pa.types.is_large_binary(values.type)
    ):
        return native_text(values, key, rtrim=False)
    series = pl.from_arrow(values)
    assert isinstance(series, pl.Series)
    return series.hash(int.from_bytes(key[:8], "little")).to_numpy().astype(np.uint64, copy=False)


class BatchValidator:
    """Conforms and checks the batches of one table; holds the run-wide uniqueness state."""

    def __init__(
        self,
        rt: ResolvedTable,
        guaranteed: Iterable[str] = (),
        sources: dict[str, tuple[str, str]] | None = None,
        memory_keys: int | None = None,
        expected_rows: int = 0,
    ):
        """`guaranteed`: unique target columns whose values are unique across the run anyway
        (a copy of a source key): checked within each batch and against existing target rows,
        but not remembered, which keeps memory flat for the common case. `sources`: for a
        masked unique column, (source column, technique), so a duplicate can be explained.
        `memory_keys`: values per unique column kept in memory before they spill to disk
        (default ``masking.spill.MEMORY_KEYS``). `expected_rows`: the rows the table will
        bring, if known (the memory of the columns to remember is then reserved at once).
        Call ``finish`` after the last batch and ``close`` always."""
        self.rt = rt
        # Hashes of source values reach the spill files: keyed with a secret of this
        # validator's own, they cannot be checked against guessed values.
        self._key = os.urandom(16)
        self.columns: list[ColumnInfo] = [rt.target_column(c) for c in rt.target_columns]
        self.types = [arrow_type(c) for c in self.columns]
        unique = [c.name for c in self.columns if rt.target.is_unique(c.name)]
        self.remember = {name for name in unique if name not in set(guaranteed)}
        self.unique: dict[str, Owners] = {
            name: Owners(memory_keys, expected_rows if name in self.remember else 0)
            for name in unique
        }
        self.sources = {k: v for k, v in (sources or {}).items() if k in self.unique}

    def _fail(
        self, column: str, rule: str, offset: int, index: int, batch_no: int, detail: str = ""
    ) -> ValidationFailed:
        return ValidationFailed(
            self.rt.label, column, row_key(offset, index, batch_no), rule, detail
        )

    def seed_existing(self, batches: Iterable[pa.RecordBatch]) -> None:
        """Remember the target's existing key values (append mode) so new rows cannot clash."""
        for batch in batches:
            for name, seen in self.unique.items():
                col = self.columns[[c.name for c in self.columns].index(name)]
                values = batch.column(name)
                values = (
                    values.cast(arrow_type(col), safe=False)
                    if values.type != arrow_type(col)
                    else values
                )
                h = _hashes(values.drop_null(), self._key)
                zeros = np.zeros(len(h), dtype=np.uint64)
                seen.add(h, np.full(len(h), EXISTING, dtype=np.uint64), zeros, 0)

    def conform(self, batch: pa.RecordBatch, offset: int, batch_no: int) -> pa.RecordBatch:
        """Cast each column to the target's Arrow type (decimals rounded to the target scale)."""
        arrays = []
        for i, (col, typ) in enumerate(zip(self.columns, self.types, strict=True)):
            values = batch.column(i)
            if isinstance(values, pa.ChunkedArray):
                values = values.combine_chunks()
            if values.type != typ:
                values = self._cast(values, col, typ, offset, batch_no)
            arrays.append(values)
        # anything after the columns (per-row offsets, masking.offsets) passes through
        arrays.extend(batch.column(i) for i in range(len(arrays), batch.num_columns))
        return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)

    def _cast(
        self, values: pa.Array, col: ColumnInfo, typ: pa.DataType, offset: int, batch_no: int
    ) -> pa.Array:
        src = values
        if pa.types.is_decimal(typ) and (
            pa.types.is_decimal(src.type) or pa.types.is_floating(src.type)
        ):
            src_scale = getattr(src.type, "scale", None)
            if src_scale is None or src_scale > typ.scale:
                src = pc.round(src, ndigits=typ.scale)
        if pa.types.is_null(src.type):
            return pa.nulls(len(src), typ)
        try:
            return src.cast(typ, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            rule = "precision" if pa.types.is_decimal(typ) else "type"
            index = self._first_bad_cast(src, typ)
            detail = (
                "value does not fit the column's precision/scale"
                if rule == "precision"
                else (f"cannot convert {src.type} to the column's type")
            )
            if index is None:
                raise self._fail(col.name, rule, offset, 0, batch_no, detail) from exc
            raise self._fail(col.name, rule, offset, index, batch_no, detail) from exc

    @staticmethod
    def _first_bad_cast(values: pa.Array, typ: pa.DataType) -> int | None:
        # Only on the failure path: bisect to the first value that will not convert.
        lo, hi = 0, len(values)
        try:
            values.slice(0, 0).cast(typ, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        while hi - lo > 1:
            mid = (lo + hi) // 2
            try:
                values.slice(lo, mid - lo).cast(typ, safe=True)
                lo = mid
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                hi = mid
        return lo

    def check(
        self,
        batch: pa.RecordBatch,
        offset: int,
        batch_no: int,
        source: pa.RecordBatch | None = None,
    ) -> None:
        """`source`: the batch as read, so a duplicate in a masked column can be explained."""
        for i, col in enumerate(self.columns):
            values = batch.column(i)
            if values.null_count and not col.nullable and not col.is_identity:
                idx = _first_true(values.is_null())
                raise self._fail(
                    col.name, "not_null", offset, idx or 0, batch_no, "NULL in a NOT NULL column"
                )
            if (
                col.max_length
                and col.category is TypeCategory.STRING
                and (pa.types.is_string(values.type) or pa.types.is_large_string(values.type))
                # a value has no more characters than bytes: counting them (a pass over every
                # byte) is needed only when some value has more bytes than the limit
                and (pc.max(pc.binary_length(values)).as_py() or 0) > col.max_length
            ):
                too_long = pc.greater(pc.utf8_length(values), col.max_length)
                idx = _first_true(too_long)
                if idx is not None:
                    raise self._fail(
                        col.name,
                        "max_length",
                        offset,
                        idx,
                        batch_no,
                        f"longer than {col.max_length} characters",
                    )
            if (
                col.max_length
                and col.category is TypeCategory.BINARY
                and pa.types.is_binary(values.type)
            ):
                idx = _first_true(pc.greater(pc.binary_length(values), col.max_length))
                if idx is not None:
                    raise self._fail(
                        col.name,
                        "max_length",
                        offset,
                        idx,
                        batch_no,
                        f"longer than {col.max_length} bytes",
                    )
            seen = self.unique.get(col.name)
            if seen is not None:
                origin = self.sources.get(col.name)
                src = None
                if origin is not None and source is not None:
                    src = source.column(origin[0])
                self._check_unique(col.name, values, seen, offset, batch_no, src)

    def _check_unique(
        self,
        name: str,
        values: pa.Array,
        seen: Owners,
        offset: int,
        batch_no: int,
        source: pa.Array | None,
    ) -> None:
        h = _hashes(values, self._key)
        valid = values.is_valid().to_numpy(zero_copy_only=False)
        present = h[valid] if values.null_count else h
        if name in self.remember and seen.fits(len(present)):
            # the common case, in one pass: each value is remembered unless seen before
            owner = self._owners(source, h)
            mine = owner[valid] if values.null_count else owner
            dup = seen.add_new(present, mine)
            if dup is None:
                return
            pos, other = dup
            idx = int(np.flatnonzero(valid)[pos])
            detail = self._why(name, other, mine[pos])
            raise self._fail(name, "unique", offset, idx, batch_no, detail)
        found, prior = seen.lookup(h)
        if not found[valid].any() and not _repeats(present):
            # the common case: nothing to explain, so no owner is computed unless it is kept
            if name in self.remember:
                owner = self._owners(source, h)
                seen.add(present, owner[valid], _rows(valid, offset), batch_no)
            return
        owner = self._owners(source, h)
        order = np.lexsort((np.arange(len(h)), h))  # equal values in row order
        sh = h[order]
        repeat = np.zeros(len(h), dtype=bool)
        repeat[order[1:]] = (sh[1:] == sh[:-1]) & valid[order[1:]] & valid[order[:-1]]
        earlier = np.zeros(len(h), dtype=np.uint64)
        earlier[order[1:]] = owner[order[:-1]]
        idx = int(np.flatnonzero(valid & (found | repeat))[0])
        if seen.spilled:  # a duplicate among the values on disk may come in an earlier row
            seen.add(h[valid], owner[valid], _rows(valid, offset), batch_no)
            self._raise_spilled(name, seen, before=offset + idx + 1)
        other = prior[idx] if found[idx] else earlier[idx]
        detail = self._why(name, other, owner[idx])
        raise self._fail(name, "unique", offset, idx, batch_no, detail)

    def _owners(self, source: pa.Array | None, h: np.ndarray) -> np.ndarray:
        """Who produced each value: its source value's hash, or the value's own for a copy
        (odd, so never EXISTING)."""
        return (_hashes(source, self._key) if source is not None else h) | np.uint64(1)

    def finish(self) -> None:
        """After the last batch: the check of the values that spilled to disk."""
        for name, seen in self.unique.items():
            self._raise_spilled(name, seen)

    def _raise_spilled(self, name: str, seen: Owners, before: int | None = None) -> None:
        dup = seen.finish()
        if dup is not None and (before is None or dup.row <= before):
            detail = self._why(name, dup.other, dup.owner)
            raise self._fail(name, "unique", dup.row - 1, 0, dup.batch, detail)

    def close(self) -> None:
        for seen in self.unique.values():
            seen.close()

    def _why(self, name: str, other: np.uint64, mine: np.uint64) -> str:
        if other == EXISTING:
            return "the value is already in a row of the target"
        origin = self.sources.get(name)
        if origin is None or other == mine:
            return "duplicate value in a unique column (the source repeats it)"
        return (
            f"technique '{origin[1]}' gave two different source values the same output "
            "(a collision; the technique's description gives its odds)"
        )


# --- after the load (still inside the target transaction) -----------------------------------
# The leak check (LeakCheck, LeakSampler) lives in masking.leaks.


def orphan_counts(
    target: Dialect,
    rt: ResolvedTable,
    loaded: dict[tuple[str, str], ResolvedTable],
    default_schema: str,
) -> list[tuple[str, str, int]]:
    """(fk columns, parent label, orphans) for each FK of `rt` whose parent was loaded too."""
    out = []
    for fk in rt.target.foreign_keys:
        parent = loaded.get(table_key(fk.ref_schema, fk.ref_table, default_schema))
        if parent is None:
            continue
        count = _orphans(target, rt, parent, fk.columns, fk.ref_columns)
        out.append((", ".join(fk.columns), parent.label, count))
    return out


@dataclass(frozen=True)
class BrokenLink:
    """A relationship the source's foreign key declares and the target does not enforce (a
    table shaped without it), which rows of the copy break: `rows` of `table`
    (its `columns`) point at no row of `parent`. A row filter on the parent alone does it."""

    table: str
    columns: str
    parent: str
    rows: int


def broken_links(
    target: Dialect, order: list[ResolvedTable], source_default: str, target_default: str
) -> list[BrokenLink]:
    """The copy checked against the source's foreign keys between tables of the run, where the
    target has no foreign key of its own on those columns (those are checked, and refused, by
    orphan_counts). Columns the run does not copy are not compared."""
    by_source = {table_key(rt.source.schema, rt.source.name, source_default): rt for rt in order}
    out = []
    for rt in order:
        mine = {r.source_column: r.target_column for r in rt.rules}
        enforced = {
            (table_key(fk.ref_schema, fk.ref_table, target_default), tuple(fk.columns))
            for fk in rt.target.foreign_keys
        }
        for fk in rt.source.foreign_keys:
            parent = by_source.get(table_key(fk.ref_schema, fk.ref_table, source_default))
            if parent is None:
                continue
            theirs = {r.source_column: r.target_column for r in parent.rules}
            cols = tuple(mine.get(c) for c in fk.columns)
            refs = tuple(theirs.get(c) for c in fk.ref_columns)
            if None in cols or None in refs or not _comparable(rt, parent, cols, refs):
                continue
            if (parent.key(target_default), cols) in enforced:
                continue
            rows = _orphans(target, rt, parent, cols, refs)  # type: ignore[arg-type]
            if rows:
                out.append(BrokenLink(rt.label, ", ".join(cols), parent.label, rows))  # type: ignore[arg-type]
    return out


def _comparable(rt: ResolvedTable, parent: ResolvedTable, cols: tuple, refs: tuple) -> bool:
    """Each pair of target columns is of one category, so the server compares them as is (a
    target table shaped by hand may hold a key as text on one side only)."""
    for c, r in zip(cols, refs, strict=True):
        mine, theirs = rt.target.column(c), parent.target.column(r)
        if mine is None or theirs is None or mine.category is not theirs.category:
            return False
    return True


def _orphans(
    target: Dialect,
    rt: ResolvedTable,
    parent: ResolvedTable,
    columns: Sequence[str],
    ref_columns: Sequence[str],
) -> int:
    """Rows of `rt`'s target whose `columns` are all set and match no row of `parent`'s."""
    sql = orphans_sql(
        target.quote,
        target.qualified(rt.target.schema, rt.target.name),
        target.qualified(parent.target.schema, parent.target.name),
        columns,
        ref_columns,
    )
    cur = target.connect().cursor()
    try:
        cur.execute(sql)
        return int(cur.fetchone()[0])
    finally:
        cur.close()
