"""The PostgreSQL binary COPY encoder, byte for byte (no server needed)."""

from __future__ import annotations

import datetime as dt
import struct
from decimal import Decimal

import pyarrow as pa
import pytest

from masking.dialects import pgbinary
from masking.schema import ColumnInfo, TypeCategory


def col(name: str, native: str, category: TypeCategory, **kw: object) -> ColumnInfo:
    return ColumnInfo(name=name, native_type=native, category=category, **kw)  # type: ignore[arg-type]


def encode(columns: list[ColumnInfo], rows: list[dict], types: list[pa.DataType]) -> bytes:
    encoders = pgbinary.encoders_for(columns)
    assert encoders is not None
    schema = pa.schema([pa.field(c.name, t) for c, t in zip(columns, types, strict=True)])
    return pgbinary.encode_batch(
        pa.RecordBatch.from_pylist(rows, schema=schema), encoders
    ).to_pybytes()


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
