"""Every SQL Server type through a real SQL Server → SQL Server run: the columns a workflow
does not mask arrive identical, value by value, and the masked ones arrive valid.

Server-generated columns (IDENTITY values are kept; computed and rowversion columns are never
written and the target computes its own). hierarchyid, geography and geometry are CLR types the
TDS stand-in does not have; their read and write forms are unit-tested in
tests/masking/dialects/test_sqlserver.py."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest

from masking import run
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams, Dialect
from masking.plan import ColumnRule, Plan, TablePlan
from tests.masking.test_pipeline import execute, fetch

pytestmark = [pytest.mark.live, pytest.mark.sqlserver]

SECRET = b"all-types-secret-0123456789abcdef"

COLUMNS = """
    id int IDENTITY(1, 1) PRIMARY KEY,
    c_tinyint tinyint, c_smallint smallint, c_int int, c_bigint bigint,
    c_decimal decimal(18, 4), c_numeric numeric(10, 0), c_money money, c_smallmoney smallmoney,
    c_float float, c_real real, c_bit bit,
    c_char char(10), c_varchar varchar(50), c_varcharmax varchar(max),
    c_nchar nchar(10), c_nvarchar nvarchar(100), c_nvarcharmax nvarchar(max),
    c_text text, c_ntext ntext,
    c_date date, c_time time(3), c_datetime datetime, c_datetime2 datetime2(7),
    c_smalldatetime smalldatetime, c_dto datetimeoffset(7),
    c_guid uniqueidentifier, c_binary binary(8), c_varbinary varbinary(max), c_image image,
    c_xml xml, c_variant sql_variant,
    email nvarchar(200), secret_code varchar(64),
    c_computed AS (c_int * 2)
"""

NAMES = [
    "c_tinyint", "c_smallint", "c_int", "c_bigint", "c_decimal", "c_numeric", "c_money",
    "c_smallmoney", "c_float", "c_real", "c_bit", "c_char", "c_varchar", "c_varcharmax",
    "c_nchar", "c_nvarchar", "c_nvarcharmax", "c_text", "c_ntext", "c_date", "c_time",
    "c_datetime", "c_datetime2", "c_smalldatetime", "c_dto", "c_guid", "c_binary",
    "c_varbinary", "c_image", "c_xml", "c_variant", "email", "secret_code",
]  # fmt: skip

# Read back in a form that compares exactly: datetimeoffset as the UTC instant in ISO text and
# its offset in minutes (both are kept), xml and sql_variant as text, text/ntext/image (not
# comparable in SQL) converted to (max) types.
READ = {
    "c_dto": "CONVERT(nvarchar(40), SWITCHOFFSET(c_dto, '+00:00'), 127)",
    "c_dto_offset": "DATEPART(TZOFFSET, c_dto)",
    "c_xml": "CONVERT(nvarchar(max), c_xml)",
    "c_variant": "CONVERT(nvarchar(4000), c_variant)",
    "c_text": "CONVERT(varchar(max), c_text)",
    "c_ntext": "CONVERT(nvarchar(max), c_ntext)",
    "c_image": "CONVERT(varbinary(max), c_image)",
}
SET_IN_SQL = ("c_dto", "c_variant")
KEPT = [n for n in NAMES if n not in ("email", "secret_code")] + ["c_dto_offset", "c_computed"]


def _row(i: int) -> tuple:
    return (
        i % 256, -(i * 7), i * 1000, 2**40 + i, Decimal(f"{i}.1234"), Decimal(i * 3),
        Decimal(f"-{i}.5678"), Decimal(f"{i}.25"), i / 7, float(i) / 4, i % 2,
        f"ch{i}", f"varchar {i}", "long " * 2000 + str(i), f"ñ{i}", f"nvarchar é ü 日本 {i}",
        "ñ" * 5000 + str(i), f"text {i}", f"ntext ß {i}",
        dt.date(2000 + i % 30, 1 + i % 12, 1 + i % 28), dt.time(i % 24, 30, 15, 123000),
        dt.datetime(2020, 2, 29, 23, 59, 58, 997000), dt.datetime(2021, 3, 4, 5, 6, 7, 123456),
        dt.datetime(2022, 5, 6, 7, 8),
        uuid.UUID(int=i * 12345), bytes([i % 256]) * 8, bytes(range(256)) * 40, b"\x00\xff" * 9,
        f"<a n='{i}'><b>é</b></a>",
        f"person{i}@realmail.example", f"SECRET-{i:06d}",
    )  # fmt: skip


def _seed(d: Dialect, rows: int) -> None:
    execute(d, f"CREATE TABLE dbo.alltypes ({COLUMNS})")
    names = [n for n in NAMES if n not in SET_IN_SQL]
    marks = ", ".join("?" for _ in names)
    execute(d, f"INSERT INTO dbo.alltypes ({', '.join(names)}) VALUES ({marks})",
            [_row(i) for i in range(1, rows + 1)])  # fmt: skip
    # datetimeoffset (with a non-UTC offset) and sql_variant are set in SQL: no driver binds them.
    execute(d, "UPDATE dbo.alltypes SET c_dto = TODATETIMEOFFSET(c_datetime2, "
               "CASE id % 3 WHEN 1 THEN '+05:30' ELSE '-08:00' END), "
               "c_variant = CAST(c_int AS sql_variant) WHERE id % 3 <> 0")  # fmt: skip
    execute(d, "UPDATE dbo.alltypes SET c_dto = TODATETIMEOFFSET(c_datetime2, '+00:00') "
               "WHERE id % 3 = 0")  # fmt: skip
    # A row of NULLs in every nullable column.
    execute(d, "INSERT INTO dbo.alltypes (c_int) VALUES (NULL)")


def _read(d: Dialect) -> list[tuple]:
    cols = ", ".join(READ.get(n, n) for n in ["id", *KEPT])
    return fetch(d, f"SELECT {cols} FROM dbo.alltypes ORDER BY id")


def test_every_sql_server_type_round_trips(
    sqlserver_db_factory: Callable[[], ConnectionParams],
) -> None:
    src, tgt = get_dialect(sqlserver_db_factory()), get_dialect(sqlserver_db_factory())
    try:
        _seed(src, 40)
        execute(tgt, f"CREATE TABLE dbo.alltypes ({COLUMNS})")
        rules = (
            ColumnRule("email", "email", "email"),
            ColumnRule("secret_code", "secret_code", "hash", {"length": 16}),
        )
        plan = Plan(
            tables=(TablePlan("dbo", "alltypes", "dbo", "alltypes", rules, None, True),),
            secret=SECRET,
            batch_size=16,
        )
        result = run(plan, src, tgt)
        assert result.rows_processed == 41
        assert {t.load_path for t in result.tables} <= {
            "bulk copy",
            "bulk copy, one staging table per column",
        }
        before, after = _read(src), _read(tgt)
        assert len(after) == 41
        for s, t in zip(before, after, strict=True):
            for name, a, b in zip(["id", *KEPT], s, t, strict=True):
                assert a == b, f"{name} differs in row {s[0]}: {a!r} != {b!r}"
        masked = fetch(tgt, "SELECT id, email, secret_code FROM dbo.alltypes ORDER BY id")
        original = fetch(src, "SELECT id, email, secret_code FROM dbo.alltypes ORDER BY id")
        for (_, email, code), (_, real_email, real_code) in zip(masked, original, strict=True):
            if real_email is None:
                assert email is None and code is None
                continue
            assert email != real_email and re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", email)
            assert code != real_code and len(code) == 16
        # IDENTITY values were kept, and new inserts continue after them.
        execute(tgt, "INSERT INTO dbo.alltypes (c_int) VALUES (7)")
        assert fetch(tgt, "SELECT MAX(id) FROM dbo.alltypes") == [(42,)]
    finally:
        src.close()
        tgt.close()


def test_a_rowversion_column_is_never_written_and_the_target_stamps_its_own(
    sqlserver_db_factory: Callable[[], ConnectionParams],
) -> None:
    src, tgt = get_dialect(sqlserver_db_factory()), get_dialect(sqlserver_db_factory())
    try:
        for d in (src, tgt):
            # The TDS stand-in (Babelfish) has rowversion behind a per-session switch; SQL
            # Server has it always.
            if "babelfish" in str(fetch(d, "SELECT @@VERSION")[0][0]).lower():
                execute(d, "EXEC sp_babelfish_configure 'escape_hatch_rowversion', 'ignore'")
            execute(
                d, "CREATE TABLE dbo.stamped (id int PRIMARY KEY, name nvarchar(20), v rowversion)"
            )
        execute(src, "INSERT INTO dbo.stamped (id, name) VALUES (?, ?)",
                [(i, f"n{i}") for i in range(1, 51)])  # fmt: skip
        assert src.describe_table("dbo", "stamped").column("v").is_computed
        plan = Plan(
            tables=(TablePlan("dbo", "stamped", "dbo", "stamped", (), None, True),),
            secret=SECRET,
            batch_size=16,
        )
        assert run(plan, src, tgt).rows_processed == 50
        rows = fetch(tgt, "SELECT id, name, v FROM dbo.stamped ORDER BY id")
        assert [(i, n) for i, n, _ in rows] == [(i, f"n{i}") for i in range(1, 51)]
        stamps = {bytes(v) for *_, v in rows}
        original = {bytes(v) for (v,) in fetch(src, "SELECT v FROM dbo.stamped")}
        # stamped by the target's own insert (the stand-in gives one stamp per transaction,
        # SQL Server one per row): none is a source value
        assert stamps and all(len(s) == 8 for s in stamps) and not stamps & original
    finally:
        src.close()
        tgt.close()
