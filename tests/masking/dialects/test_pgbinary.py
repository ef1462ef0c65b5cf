"""The PostgreSQL binary COPY encoder, byte for byte (no server needed)."""

from __future__ import annotations

import datetime as dt
import struct
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masking.dialects import pgbinary
from masking.schema import ColumnInfo, TypeCategory


def col(name: str, native: str, category: TypeCategory, **kw: object) -> ColumnInfo:
    return ColumnInfo(name=name, native_type=native, category=category, **kw)  # type: ignore[arg-type]


def encode(columns: list[ColumnInfo], rows: list[dict], types: list[pa.DataType]) -> bytes:
    """The C writer's rows, checked against the Arrow reference."""
    encoders = pgbinary.encoders_for(columns)
    assert encoders is not None
    schema = pa.schema([pa.field(c.name, t) for c, t in zip(columns, types, strict=True)])
    batch = pa.RecordBatch.from_pylist(rows, schema=schema)
    got = pgbinary.encode_batch(batch, encoders)
    fields = [enc(batch.column(i)) for i, enc in enumerate(encoders)]
    assert got == pgbinary.rows_reference(batch.num_rows, fields)
    return got


def field(data: bytes) -> bytes:
    return struct.pack(">i", len(data)) + data


NULL = b"\xff\xff\xff\xff"


def test_rows_are_field_count_then_length_prefixed_fields() -> None:
    cols = [col("k", "integer", TypeCategory.NUMERIC), col("t", "text", TypeCategory.STRING)]
    got = encode(
        cols,
        [{"k": 1, "t": "ab"}, {"k": None, "t": None}, {"k": -2, "t": ""}],
        [pa.int64(), pa.string()],
    )
    assert got == (
        b"\x00\x02"
        + field(b"\x00\x00\x00\x01")
        + field(b"ab")
        + b"\x00\x02"
        + NULL
        + NULL
        + b"\x00\x02"
        + field(b"\xff\xff\xff\xfe")
        + field(b"")
    )


def test_numeric_groups_weight_sign_and_scale() -> None:
    cols = [
        col("a", "numeric", TypeCategory.NUMERIC, precision=9, scale=5),
        col("b", "numeric", TypeCategory.NUMERIC, precision=12, scale=2),
    ]
    got = encode(
        cols,
        [{"a": Decimal("1.5"), "b": Decimal("-0.01")}],
        [pa.decimal128(9, 5), pa.decimal128(12, 2)],
    )
    a = struct.pack(">4h", 3, 0, 0, 5) + struct.pack(">3h", 1, 5000, 0)
    b = struct.pack(">4h", 4, 2, 0x4000, 2) + struct.pack(">4h", 0, 0, 0, 100)
    assert got == b"\x00\x02" + field(a) + field(b)


def test_wide_numeric_uses_exact_integer_digits() -> None:
    c = col("n", "numeric", TypeCategory.NUMERIC, precision=38, scale=10)
    value = Decimal("-1234567890123456789012345678.0123456789")
    got = encode([c], [{"n": value}], [pa.decimal128(38, 10)])
    # 28 integer digits -> 7 groups, 10 fraction digits padded to 12 -> 3 groups
    groups = [1234, 5678, 9012, 3456, 7890, 1234, 5678, 123, 4567, 8900]
    assert got == b"\x00\x01" + field(
        struct.pack(">4h", 10, 6, 0x4000, 10) + struct.pack(">10h", *groups)
    )


def test_temporal_values_count_from_2000() -> None:
    cols = [
        col("d", "date", TypeCategory.DATE),
        col("ts", "timestamp without time zone", TypeCategory.DATETIME),
        col("tm", "time without time zone", TypeCategory.TIME),
    ]
    got = encode(
        cols,
        [
            {
                "d": dt.date(2000, 1, 2),
                "ts": dt.datetime(1999, 12, 31, 23, 59, 59),
                "tm": dt.time(0, 0, 1),
            }
        ],
        [pa.date32(), pa.timestamp("us"), pa.time64("us")],
    )
    assert got == (
        b"\x00\x03"
        + field(struct.pack(">i", 1))
        + field(struct.pack(">q", -1_000_000))
        + field(struct.pack(">q", 1_000_000))
    )


def test_bool_uuid_jsonb_bytea() -> None:
    cols = [
        col("b", "boolean", TypeCategory.BOOLEAN),
        col("u", "uuid", TypeCategory.UUID),
        col("j", "jsonb", TypeCategory.OTHER),
        col("x", "bytea", TypeCategory.BINARY),
    ]
    got = encode(
        cols,
        [
            {"b": True, "u": "000102030405060708090A0B0C0D0E0F", "j": "{}", "x": b"\x00\x01"},
            {"b": None, "u": None, "j": None, "x": None},
        ],
        [pa.bool_(), pa.string(), pa.string(), pa.binary()],
    )
    assert got == (
        b"\x00\x04"
        + field(b"\x01")
        + field(bytes(range(16)))
        + field(b"\x01{}")
        + field(b"\x00\x01")
        + b"\x00\x04"
        + NULL * 4
    )


@pytest.mark.parametrize(
    ("native", "category", "arrow", "value"),
    [
        ("smallint", TypeCategory.NUMERIC, pa.int64(), 70_000),
        ("uuid", TypeCategory.UUID, pa.string(), "zz0102030405060708090a0b0c0d0e0f"),
        ("uuid", TypeCategory.UUID, pa.string(), "0102"),
    ],
)
def test_unencodable_values_fail_without_the_value(  # type: ignore[no-untyped-def]
    native, category, arrow, value
):
    with pytest.raises(pgbinary.EncodeError) as err:
        encode([col("c", native, category)], [{"c": value}], [arrow])
    assert str(value) not in str(err.value)


def test_types_without_a_binary_encoder_choose_text() -> None:
    assert pgbinary.encoder_for(col("i", "inet", TypeCategory.OTHER)) is None
    assert pgbinary.encoder_for(col("t", "time with time zone", TypeCategory.TIME)) is None
    assert (
        pgbinary.encoders_for(
            [col("k", "integer", TypeCategory.NUMERIC), col("m", "money", TypeCategory.NUMERIC)]
        )
        is None
    )


def test_the_writer_is_built() -> None:
    assert pgbinary._native is not None  # setup.py builds it with the package


TEXTS = st.one_of(st.none(), st.text(max_size=12))


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), TEXTS, TEXTS),
        min_size=1,
        max_size=40,
    ),
    start=st.integers(0, 5),
)
def test_c_rows_equal_the_reference_on_sliced_batches(rows, start) -> None:
    cols = [
        col("k", "bigint", TypeCategory.NUMERIC),
        col("t", "text", TypeCategory.STRING),
        col("j", "jsonb", TypeCategory.OTHER),
    ]
    padded = [(None, "pad", None)] * start + rows  # a slice: the arrays' offsets are not 0
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array([r[i] for r in padded], t)
            for i, t in enumerate([pa.int64(), pa.string(), pa.string()])
        ],
        names=["k", "t", "j"],
    ).slice(start)
    encoders = pgbinary.encoders_for(cols)
    assert encoders is not None
    fields = [enc(batch.column(i)) for i, enc in enumerate(encoders)]
    got = pgbinary.encode_batch(batch, encoders)
    assert got == pgbinary.rows_reference(len(rows), fields)
    expected = b"".join(
        struct.pack(">h", 3)
        + (NULL if k is None else field(struct.pack(">q", k)))
        + (NULL if t is None else field(t.encode()))
        + (NULL if j is None else field(b"\x01" + j.encode()))
        for k, t, j in rows
    )
    assert got == expected


def test_the_writer_refuses_buffers_that_do_not_hold_n_values() -> None:
    rows = pgbinary._native.rows
    offsets = np.array([0, 2, 9], dtype="<i8")
    with pytest.raises(ValueError, match="outside the data"):
        rows(2, [(b"abcd", offsets, 0, None, b"")])
    with pytest.raises(ValueError, match="n \\+ 1"):
        rows(3, [(b"abcdefghij", offsets, 0, None, b"")])
    with pytest.raises(ValueError, match="shorter"):
        rows(3, [(b"abcde", None, 2, None, b"")])
    with pytest.raises(ValueError, match="n flags"):
        rows(3, [(b"abcdef", None, 2, b"\x01", b"")])
    assert rows(2, [(b"abcd", None, 2, b"\x01\x00", b"")]) == b"\x00\x01" + field(b"ab") + (
        b"\x00\x01" + NULL
    )
