"""The binary COPY reader's parse (`_pgcopy.decode`, the same code `read` runs on libpq's
messages), without a server: rows the writer encodes read back as the same Arrow values, and
a stream of an unexpected shape is refused, never half read."""

from __future__ import annotations

import datetime as dt
import struct

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masking.dialects import pgbinary, postgresql_copy, postgresql_read
from masking.schema import ColumnInfo, TypeCategory

_native = postgresql_copy._native  # built with the package (setup.py)

COLUMNS = [
    ColumnInfo(name="s", native_type="smallint", category=TypeCategory.NUMERIC),
    ColumnInfo(name="i", native_type="integer", category=TypeCategory.NUMERIC),
    ColumnInfo(name="q", native_type="bigint", category=TypeCategory.NUMERIC),
    ColumnInfo(name="f", native_type="double precision", category=TypeCategory.NUMERIC),
    ColumnInfo(name="b", native_type="boolean", category=TypeCategory.BOOLEAN),
    ColumnInfo(name="d", native_type="date", category=TypeCategory.DATE),
    ColumnInfo(name="t", native_type="timestamp without time zone", category=TypeCategory.DATETIME),
    ColumnInfo(name="x", native_type="text", category=TypeCategory.STRING),
]
KINDS = [postgresql_copy.wire_kind(c) for c in COLUMNS]
TYPES = [pa.int16(), pa.int32(), pa.int64(), pa.float64(), pa.bool_(), pa.date32()]
TYPES += [pa.timestamp("us"), pa.string()]
TRAILER = pgbinary.TRAILER


def test_the_reader_is_built() -> None:
    assert _native is not None


def _rows(batch: pa.RecordBatch) -> list[bytes]:
    """The batch as the server sends it: one message per row."""
    encoders = pgbinary.encoders_for(COLUMNS)
    assert encoders is not None
    return [pgbinary.encode_batch(batch.slice(i, 1), encoders) for i in range(batch.num_rows)]


def _decode(messages: list[bytes], kinds: list[str | None] = KINDS) -> tuple[int, int, list]:
    return _native.decode(messages, "".join(k or "" for k in kinds).encode())


def _batch(rows: list[dict]) -> pa.RecordBatch:
    schema = pa.schema([pa.field(c.name, t) for c, t in zip(COLUMNS, TYPES, strict=True)])
    return pa.RecordBatch.from_pylist(rows, schema=schema)


values = st.fixed_dictionaries(
    {
        "s": st.none() | st.integers(-(2**15), 2**15 - 1),
        "i": st.none() | st.integers(-(2**31), 2**31 - 1),
        "q": st.none() | st.integers(-(2**63), 2**63 - 1),
        "f": st.none() | st.floats(allow_nan=False),
        "b": st.none() | st.booleans(),
        "d": st.none() | st.dates(),
        "t": st.none() | st.datetimes(),
        "x": st.none() | st.text(),
    }
)


@settings(max_examples=150, deadline=None)
@given(st.lists(values, max_size=40), st.booleans())
def test_what_the_writer_encodes_reads_back_value_for_value(rows, one_message) -> None:
    batch = _batch(rows)
    body = _rows(batch)
    messages = [pgbinary.SIGNATURE, *body, TRAILER]
    if one_message:  # rows sharing a message parse the same
        messages = [b"".join(messages)]
    status, n, columns = _decode(messages)
    assert (status, n) == (0, len(rows))
    got = postgresql_copy.raw_arrays(KINDS, n, columns)
    for arr, want in zip(got, batch.columns, strict=True):
        arr.validate(full=True)
        assert arr.equals(want), (arr, want)


def test_infinite_dates_and_timestamps_read_as_the_extremes_no_caller_accepts() -> None:
    header = pgbinary.SIGNATURE
    row = b"\x00\x02" + struct.pack(">ii", 4, 2**31 - 1) + struct.pack(">iq", 8, -(2**63))
    row2 = b"\x00\x02" + struct.pack(">ii", 4, -(2**31)) + struct.pack(">iq", 8, 2**63 - 1)
    status, n, columns = _decode([header, row, row2, TRAILER], ["D", "T"])
    assert (status, n) == (0, 2)
    dates, stamps = postgresql_copy.raw_arrays(["D", "T"], n, columns)
    assert dates.cast(pa.int32()).to_pylist() == [2**31 - 1, -(2**31) + 10_957]
    assert stamps.cast(pa.int64()).to_pylist() == [-(2**63) + 946_684_800_000_000, 2**63 - 1]
    from masking.dialects.postgresql_arrow import conform

    assert conform(dates, pa.date32()) is None and conform(stamps, pa.timestamp("us")) is None


def test_an_empty_page_reads_as_no_rows() -> None:
    status, n, columns = _decode([pgbinary.SIGNATURE, TRAILER])
    assert (status, n) == (0, 0)
    assert [len(a) for a in postgresql_copy.raw_arrays(KINDS, n, columns)] == [0] * len(KINDS)


ONE = _batch([{"s": 1, "i": 2, "q": 3, "f": 0.5, "b": True, "d": dt.date(2020, 1, 1),
               "t": dt.datetime(2020, 1, 1), "x": "a"}])  # fmt: skip


@pytest.mark.parametrize(
    ("messages", "status"),
    [
        ([b"PGCOPY\n\xff\r\n\x01" + b"\x00" * 8, *_rows(ONE), TRAILER], 3),  # not the signature
        ([pgbinary.SIGNATURE, b"\x00\x07" + _rows(ONE)[0][2:], TRAILER], 3),  # field count
        ([pgbinary.SIGNATURE, _rows(ONE)[0][:-1], TRAILER], 3),  # a row cut short
        ([pgbinary.SIGNATURE, _rows(ONE)[0][:10], _rows(ONE)[0][10:], TRAILER], 3),  # split
        ([pgbinary.SIGNATURE, *_rows(ONE)], 1),  # no trailer: the COPY ended early
        ([pgbinary.SIGNATURE[:12], TRAILER], 3),  # a header cut short
    ],
)
def test_a_stream_of_another_shape_is_refused(messages, status) -> None:
    got, _, columns = _decode(messages)
    assert got == status
    assert columns == [None] * len(KINDS)  # nothing half read is handed on


def test_a_field_of_another_width_is_refused_and_the_stream_read_to_its_trailer() -> None:
    wide = b"\x00\x01" + struct.pack(">iq", 8, 5)  # an int8 where an int4 was expected
    ok = b"\x00\x01" + struct.pack(">ii", 4, 5)
    assert _decode([pgbinary.SIGNATURE, ok, TRAILER], ["i"])[:2] == (0, 1)
    # refused, yet read on to the trailer (status 3, not 1: the COPY's end is still psycopg's)
    assert _decode([pgbinary.SIGNATURE, wide, ok, TRAILER], ["i"])[0] == 3
    assert _decode([pgbinary.SIGNATURE, wide, ok], ["i"])[0] == 1


def test_unknown_kinds_and_no_columns_are_errors() -> None:
    with pytest.raises(ValueError, match="kind"):
        _native.decode([], b"z")
    with pytest.raises(ValueError, match="columns"):
        _native.decode([], b"")


def _col(native: str, category: TypeCategory) -> ColumnInfo:
    return ColumnInfo(name="c", native_type=native, category=category)


def test_every_column_the_fast_paths_read_has_a_wire_kind() -> None:
    cases = {
        ("character varying", TypeCategory.STRING): "s",
        ("bpchar", TypeCategory.STRING): "s",
        ("user-defined", TypeCategory.STRING): "s",
        ("uuid", TypeCategory.UUID): "s",
        ("jsonb", TypeCategory.OTHER): "s",
        ("numeric", TypeCategory.NUMERIC): "s",
        ("real", TypeCategory.NUMERIC): "s",
        ("smallint", TypeCategory.NUMERIC): "h",
        ("integer", TypeCategory.NUMERIC): "i",
        ("bigint", TypeCategory.NUMERIC): "q",
        ("double precision", TypeCategory.NUMERIC): "d",
        ("boolean", TypeCategory.BOOLEAN): "?",
        ("date", TypeCategory.DATE): "D",
        ("timestamp", TypeCategory.DATETIME): "T",
    }
    for (native, category), kind in cases.items():
        column = _col(native, category)
        assert postgresql_read.readable(column)
        assert postgresql_copy.wire_kind(column) == kind, native
    # what the fast paths do not read has no kind either
    for native, category in [("bytea", TypeCategory.BINARY), ("name", TypeCategory.STRING)]:
        assert postgresql_copy.wire_kind(_col(native, category)) is None
