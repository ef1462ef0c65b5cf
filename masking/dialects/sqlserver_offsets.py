"""SQL Server's per-row datetimeoffset offsets (see masking.offsets): read beside each value,
written back with it by bulk copy (sqlserver_bulk.move_rows) or, in the fallback, as text."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from masking import offsets
from masking.dialects import arrowconv
from masking.dialects import sqlserver_bulk as bulk
from masking.dialects import sqlserver_sql as q
from masking.schema import ColumnInfo, TableInfo


def read_batch(
    rows: Sequence[Sequence[Any]], wanted: Sequence[ColumnInfo], start: int
) -> pa.RecordBatch:
    """Rows read by sqlserver_sql's selects as a batch: `wanted`, then the per-row offsets of
    its datetimeoffset columns, which the rows hold from position `start`."""
    batch = arrowconv.rows_to_batch(rows, wanted)
    for j, col in enumerate(q.offset_columns(wanted)):
        values = pa.array([r[start + j] for r in rows], offsets.TYPE)
        batch = batch.append_column(pa.field(offsets.companion(col.name), offsets.TYPE), values)
    return batch


def fallback_rows(batch: pa.RecordBatch, table: TableInfo, columns: Sequence[str]) -> list[Any]:
    """Parameter rows for fast_executemany: a datetimeoffset value with a known offset goes as
    ISO text at that offset (the driver binds no aware datetime), others as encode() says."""
    found = offsets.companions(batch)
    lists = []
    for name in columns:
        values = batch.column(batch.schema.get_field_index(name)).to_pylist()
        col = table.column(name)
        shift = (
            found.get(name)
            if col is not None and col.native_type.lower() == "datetimeoffset"
            else None
        )
        if shift is None:
            lists.append([bulk.encode(v) for v in values])
        else:
            lists.append([_at_offset(v, m) for v, m in zip(values, shift.to_pylist(), strict=True)])
    return list(zip(*lists, strict=True)) if lists else []


def _at_offset(v: Any, minutes: int | None) -> Any:
    if not isinstance(v, dt.datetime) or minutes is None:
        return bulk.encode(v)
    utc = v.replace(tzinfo=dt.timezone.utc) if v.tzinfo is None else v
    local = utc.astimezone(dt.timezone(dt.timedelta(minutes=minutes)))
    return local.isoformat(sep=" ", timespec="microseconds")
