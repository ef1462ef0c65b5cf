"""Shared dialect helpers: message scrubbing, error categories, keyset SQL, Arrow typing."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pyarrow as pa
import pytest

from masking.dialects import ConnectionParams, get_dialect, transpile_type
from masking.dialects.arrowconv import arrow_type, batch_rows, rows_to_batch
from masking.dialects.common import classify, keyset_params, keyset_predicate
from masking.errors import TerminalError
from masking.schema import ColumnInfo
from masking.schema import TypeCategory as C


@pytest.mark.parametrize(
    ("message", "category"),
    [
        ('connection to server at "h", port 1 failed: Connection refused', "unreachable"),
        ('could not translate host name "x" to address', "unreachable"),
        ("[HYT00] Login timeout expired", "unreachable"),
        ('FATAL: password authentication failed for user "u"', "login_failed"),
        ("Login failed for user 'sa'. (18456)", "login_failed"),
        ('FATAL: database "nope" does not exist', "database_not_found"),
        (
            'Cannot open database "x" requested by the login. The login failed. (4060)',
            "database_not_found",
        ),
        ("[01000] [unixODBC][Driver Manager]Can't open lib 'X' : file not found", "driver_missing"),
        ("SSL Provider: certificate verify failed", "tls"),
        ("permission denied for table t", "permission_denied"),
        ("something odd happened", "unknown"),
    ],
)
def test_classify(message, category):
    assert classify(message) == category


def test_keyset_forms():
    assert keyset_predicate(['"a"'], "?", True) == '"a" > ?'
    assert keyset_predicate(['"a"', '"b"'], "%s", True) == '("a", "b") > (%s, %s)'
    assert keyset_predicate(["[a]", "[b]"], "?", False) == ("(([a] > ?) OR ([a] = ? AND [b] > ?))")
    assert keyset_params([1, 2], False) == [1, 1, 2]
    assert keyset_params([1, 2], True) == [1, 2]


def test_arrow_types_follow_categories():
    def col(native, cat, **kw):
        return ColumnInfo("c", native, cat, **kw)

    assert arrow_type(col("numeric", C.NUMERIC, precision=12, scale=2)) == pa.decimal128(12, 2)
    assert arrow_type(col("numeric", C.NUMERIC)) == pa.decimal128(38, 10)
    assert arrow_type(col("money", C.NUMERIC)) == pa.decimal128(19, 4)
    assert arrow_type(col("integer", C.NUMERIC)) == pa.int64()
    assert arrow_type(col("bigint unsigned", C.NUMERIC)) == pa.uint64()
    assert arrow_type(col("double precision", C.NUMERIC)) == pa.float64()
    assert arrow_type(col("date", C.DATE)) == pa.date32()
    assert arrow_type(col("timestamp with time zone", C.DATETIME)) == pa.timestamp("us", "UTC")
    assert arrow_type(col("datetimeoffset", C.DATETIME)) == pa.timestamp("us", "UTC")
    assert arrow_type(col("datetime2", C.DATETIME)) == pa.timestamp("us")
    assert arrow_type(col("time", C.TIME)) == pa.time64("us")
    assert arrow_type(col("uuid", C.UUID)) == pa.string()
    assert arrow_type(col("bytea", C.BINARY)) == pa.binary()
    assert arrow_type(col("jsonb", C.OTHER)) == pa.string()
    assert arrow_type(col("bit", C.BOOLEAN)) == pa.bool_()


def test_rows_to_batch_converts_driver_values():
    cols = [
        ColumnInfo("u", "uuid", C.UUID),
        ColumnInfo("j", "json", C.OTHER),
        ColumnInfo("t", "time", C.TIME),
        ColumnInfo("b", "bit(1)", C.BOOLEAN),
        ColumnInfo("d", "decimal", C.NUMERIC, precision=5, scale=2),
        ColumnInfo("z", "timestamptz", C.DATETIME),
    ]
    tz = dt.timezone(dt.timedelta(hours=2))
    batch = rows_to_batch(
        [
            (
                uuid.UUID(int=5),
                {"a": 1},
                dt.timedelta(hours=1, seconds=2),
                b"\x01",
                1.5,
                dt.datetime(2024, 1, 1, 2, 0, tzinfo=tz),
            )
        ],
        cols,
    )
    assert batch.to_pylist() == [
        {
            "u": "00000000-0000-0000-0000-000000000005",
            "j": '{"a": 1}',
            "t": dt.time(1, 0, 2),
            "b": True,
            "d": Decimal("1.50"),
            "z": dt.datetime(2024, 1, 1, 0, 0, tzinfo=dt.timezone.utc),
        }
    ]
    assert batch_rows(batch, ["d", "b"]) == [(Decimal("1.50"), True)]
    with pytest.raises(TerminalError, match="TIME"):
        rows_to_batch([(dt.timedelta(hours=30),)], [ColumnInfo("t", "time", C.TIME)])


def test_unconvertible_values_fail_without_quoting_them():
    with pytest.raises(TerminalError) as err:
        rows_to_batch([("secret-abc",)], [ColumnInfo("n", "integer", C.NUMERIC)])
    assert "secret" not in str(err.value) and "column 'n'" in str(err.value)
    with pytest.raises(TerminalError, match="column 'n'"):
        rows_to_batch([(1.5,)], [ColumnInfo("n", "integer", C.NUMERIC)])
    assert rows_to_batch([(2.0,)], [ColumnInfo("n", "integer", C.NUMERIC)]).to_pylist() == [
        {"n": 2}
    ]


@pytest.mark.parametrize(
    ("native", "src", "dst", "expected"),
    [
        ("varchar(100)", "postgresql", "mysql", "VARCHAR(100)"),
        ("numeric(10,2)", "postgresql", "sqlserver", "NUMERIC(10, 2)"),
        ("tinyint(1)", "mysql", "postgresql", "BOOLEAN"),
        ("jsonb", "postgresql", "mysql", "LONGTEXT"),
        ("uuid", "postgresql", "mysql", "CHAR(36)"),
        ("uuid", "postgresql", "sqlserver", "UNIQUEIDENTIFIER"),
        ("datetimeoffset", "sqlserver", "postgresql", "TIMESTAMPTZ"),
        ("nvarchar(50)", "sqlserver", "postgresql", "VARCHAR(50)"),
        ("bigint", "mysql", "sqlite", "INTEGER"),
        ("bytea", "postgresql", "sqlserver", "VARBINARY(MAX)"),
        ("int unsigned", "mysql", "postgresql", "BIGINT"),
        ("text", "postgresql", "postgresql", "text"),
    ],
)
def test_transpile_type(native, src, dst, expected):
    assert transpile_type(native, src, dst) == expected


def test_unknown_dialect_is_terminal():
    with pytest.raises(TerminalError, match="unknown dialect 'oracle'"):
        get_dialect(ConnectionParams(dialect="oracle"))


def test_quote_doubles_closing_quote():
    assert get_dialect(ConnectionParams(dialect="postgresql")).quote('a"b') == '"a""b"'
    assert get_dialect(ConnectionParams(dialect="mysql")).quote("a`b") == "`a``b`"
    assert get_dialect(ConnectionParams(dialect="sqlserver")).quote("a]b") == "[a]]b]"
