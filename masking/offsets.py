"""Per-row UTC offsets of SQL Server's `datetimeoffset` values.

Arrow holds one time zone per column, so the instant of every value travels as a UTC
timestamp and a source that keeps an offset per row reads that offset (minutes east of UTC,
int16) into a companion column named ``companion(column)``. Extraction and masking carry the
companion beside its column (renamed with it); a target that keeps offsets writes each instant
at its own offset, every other target drops the companions before writing. A masked value
keeps its row's offset: a shifted instant is shown in the zone the original was."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pyarrow as pa

PREFIX = "\x1eoffset:"  # a record-separator character: no real column name starts with it
TYPE = pa.int16()


def companion(column: str) -> str:
    return PREFIX + column


def is_companion(name: str) -> bool:
    return name.startswith(PREFIX)


def owner(name: str) -> str:
    """The column a companion belongs to."""
    return name[len(PREFIX) :]


def companions(batch: pa.RecordBatch | pa.Table) -> dict[str, pa.Array]:
    """column -> its offsets, for the columns of `batch` that carry them."""
    return {
        owner(name): batch.column(i)
        for i, name in enumerate(batch.schema.names)
        if is_companion(name)
    }


def with_companions(
    batch: pa.RecordBatch, source: pa.RecordBatch, renames: Mapping[str, str] | Iterable[str]
) -> pa.RecordBatch:
    """`batch` with the companions of `source` appended: for each source column in `renames`
    that has one, under the name of the column it becomes (a mapping) or its own (a list)."""
    found = companions(source)
    if not found:
        return batch
    pairs = renames.items() if isinstance(renames, Mapping) else ((c, c) for c in renames)
    for src, dst in pairs:
        if src in found and companion(dst) not in batch.schema.names:
            batch = batch.append_column(pa.field(companion(dst), TYPE), found[src])
    return batch


def strip(batch: pa.RecordBatch) -> pa.RecordBatch:
    """`batch` without companions."""
    keep = [i for i, name in enumerate(batch.schema.names) if not is_companion(name)]
    if len(keep) == batch.num_columns:
        return batch
    return batch.select(keep)
