"""Per-row datetimeoffset offsets travel beside their column (masking.offsets): read by the
SQL Server dialect, renamed with the column through masking, dropped before any target that
keeps no offset, and written as text at the row's offset by the fast_executemany fallback."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from masking import offsets
from masking.dialects import sqlserver_offsets as tz
from masking.load import TableLoader
from masking.schema import ColumnInfo, TableInfo, TypeCategory

AT = ColumnInfo("at", "datetimeoffset", TypeCategory.DATETIME)
ID = ColumnInfo("id", "int", TypeCategory.NUMERIC)
TABLE = TableInfo("dbo", "events", (ID, AT), ("id",))
UTC = dt.timezone.utc


def test_rows_read_become_a_batch_with_the_offsets_after_the_columns() -> None:
    instant = dt.datetime(2024, 3, 31, 1, 30)
    # id, at, then a paging key, then the offset of "at" (position 3)
    rows = [(1, instant, 1, 330), (2, None, 2, None)]
    batch = tz.read_batch(rows, [ID, AT], 3)
    assert batch.schema.names == ["id", "at", offsets.companion("at")]
    assert batch.column(2).to_pylist() == [330, None]
    assert batch.column(2).type == offsets.TYPE
    assert offsets.companions(batch) == {"at": batch.column(2)}
    assert tz.read_batch(rows, [ID], 1).schema.names == ["id"]


def test_companions_follow_their_column_under_its_new_name_and_strip_off() -> None:
    source = pa.RecordBatch.from_pydict(
        {"a": [1, 2], offsets.companion("a"): pa.array([60, -60], offsets.TYPE), "b": [3, 4]}
    )
    out = pa.RecordBatch.from_pydict({"x": [9, 9], "y": [8, 8]})
    carried = offsets.with_companions(out, source, {"a": "x", "b": "y"})
    assert carried.schema.names == ["x", "y", offsets.companion("x")]
    assert carried.column(2).to_pylist() == [60, -60]
    assert offsets.strip(carried).schema.names == ["x", "y"]
    assert offsets.strip(out) is out
    assert offsets.with_companions(out, out, ["x"]) is out  # nothing to carry
    assert offsets.owner(offsets.companion("a b")) == "a b" and not offsets.is_companion("a")


def test_the_fallback_writes_each_instant_at_its_rows_offset() -> None:
    instant = dt.datetime(2024, 3, 31, 1, 30, 0, 123456, tzinfo=UTC)
    batch = pa.RecordBatch.from_pydict(
        {
            "id": [1, 2, 3],
            "at": pa.array([instant, instant, None], pa.timestamp("us", tz="UTC")),
            offsets.companion("at"): pa.array([330, None, -480], offsets.TYPE),
        }
    )
    rows = tz.fallback_rows(batch, TABLE, ["id", "at"])
    assert rows == [
        (1, "2024-03-31 07:00:00.123456+05:30"),
        (2, dt.datetime(2024, 3, 31, 1, 30, 0, 123456)),  # no offset known: UTC, naive
        (3, None),
    ]
    plain = tz.fallback_rows(offsets.strip(batch), TABLE, ["id", "at"])
    assert plain[0] == (1, dt.datetime(2024, 3, 31, 1, 30, 0, 123456))


class _Target:
    keeps_offsets = False

    def __init__(self) -> None:
        self.names: list[list[str]] = []

    def begin_load(self, *_: object) -> None: ...

    def end_load(self, *_: object) -> None: ...

    def abort_load(self, *_: object) -> None: ...

    def write_batch(self, table: TableInfo, columns: list[str], batch: pa.RecordBatch) -> int:
        self.names.append(batch.schema.names)
        return batch.num_rows


def test_a_target_that_keeps_no_offset_never_sees_them() -> None:
    batch = pa.RecordBatch.from_pydict(
        {"id": [1], "at": [None], offsets.companion("at"): pa.array([60], offsets.TYPE)}
    )
    for keeps, expected in [(False, ["id", "at"]), (True, batch.schema.names)]:
        target = _Target()
        target.keeps_offsets = keeps
        with TableLoader(target, "events", TABLE, ["id", "at"]) as loader:  # type: ignore[arg-type]
            loader.write(batch, 1)
        assert target.names == [expected]
