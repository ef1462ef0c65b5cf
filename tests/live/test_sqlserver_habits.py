"""SQL Server habits, live: schemas other than dbo, names with spaces and `]`, a table without a
primary key, a foreign key across schemas, a trigger on the target, a row filter in T-SQL, and a
case-insensitive unique e-mail column of 100,000 rows.

Names holding `]` are quoted the SQL Server way, `[a]]b]`; the TDS stand-in (Babelfish) cannot
parse that escape, so those statements are unit-tested in tests/masking/dialects/test_sqlserver.py
and the live names here hold spaces only."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from masking import run
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams, Dialect
from masking.plan import ColumnRule, Plan, TablePlan
from masking.rowfilter import validate_row_filter
from tests.masking.test_pipeline import execute, fetch

pytestmark = [pytest.mark.live, pytest.mark.sqlserver]

SECRET = b"habits-secret-0123456789abcdef01"

DDL = [
    "CREATE SCHEMA [sales dept]",
    "CREATE SCHEMA hr",
    # The default collation (SQL_Latin1_General_CP1_CI_AS) is case-insensitive.
    "CREATE TABLE [sales dept].[cust omers] (id int PRIMARY KEY, [e mail] nvarchar(200) "
    "NOT NULL UNIQUE, [full name] nvarchar(100))",
    "CREATE TABLE hr.[order lines] (id int PRIMARY KEY, [cust id] int NOT NULL "
    "REFERENCES [sales dept].[cust omers] (id), [contact mail] nvarchar(200))",
    "CREATE TABLE dbo.[log lines] (msg nvarchar(100), n int)",
]
CUSTOMERS = "[sales dept].[cust omers]"


def _seed(d: Dialect, customers: int) -> None:
    for sql in DDL:
        execute(d, sql)
    rows = [(i, f"Person{i}@RealMail.example", f"Full Name {i}") for i in range(1, customers + 1)]
    execute(d, f"INSERT INTO {CUSTOMERS} VALUES (?, ?, ?)", rows)
    execute(
        d,
        "INSERT INTO hr.[order lines] VALUES (?, ?, ?)",
        [
            (i, 1 + i % customers, f"Person{1 + i % customers}@RealMail.example")
            for i in range(1, 301)
        ],
    )
    execute(d, "INSERT INTO dbo.[log lines] VALUES (?, ?)", [(f"line {i}", i) for i in range(50)])


def _plan(row_filter: str | None = None, batch: int = 5000) -> Plan:
    email = ColumnRule("e mail", "e mail", "email")
    return Plan(
        tables=(
            TablePlan("hr", "order lines", "hr", "order lines",
                      (ColumnRule("contact mail", "contact mail", "email"),), None, True),
            TablePlan("sales dept", "cust omers", "sales dept", "cust omers",
                      (email, ColumnRule("full name", "full name", "full_name")), row_filter, True),
            TablePlan("dbo", "log lines", "dbo", "log lines", (), None, True),
        ),
        secret=SECRET,
        batch_size=batch,
    )  # fmt: skip


@pytest.fixture
def pair(sqlserver_db_factory: Callable[[], ConnectionParams]):  # type: ignore[no-untyped-def]
    src, tgt = get_dialect(sqlserver_db_factory()), get_dialect(sqlserver_db_factory())
    yield src, tgt
    src.close()
    tgt.close()


def test_schemas_quoted_names_no_pk_and_cross_schema_keys(pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt = pair
    _seed(src, 200)
    for sql in DDL:
        execute(tgt, sql)
    info = src.describe_table("hr", "order lines")
    assert [(f.ref_schema, f.ref_table) for f in info.foreign_keys] == [
        ("sales dept", "cust omers")
    ]
    assert src.describe_table("dbo", "log lines").primary_key == ()
    result = run(_plan(), src, tgt)
    assert {t.name.split(".")[-1]: t.rows_written for t in result.tables} == {
        "order lines": 300,
        "cust omers": 200,
        "log lines": 50,
    }
    # Masked copies of an e-mail join across schemas, and no real address is left.
    joined = fetch(
        tgt,
        f"SELECT COUNT(*) FROM hr.[order lines] o JOIN {CUSTOMERS} c "
        "ON c.id = o.[cust id] AND c.[e mail] = o.[contact mail]",
    )
    assert joined == [(300,)]
    assert fetch(tgt, f"SELECT COUNT(*) FROM {CUSTOMERS} WHERE [e mail] LIKE '%RealMail%'") == [
        (0,)
    ]
    assert sorted(fetch(tgt, "SELECT msg, n FROM dbo.[log lines]")) == sorted(
        fetch(src, "SELECT msg, n FROM dbo.[log lines]")
    )


def test_row_filter_in_t_sql(pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt = pair
    _seed(src, 200)
    for sql in DDL:
        execute(tgt, sql)
    where = validate_row_filter(
        "[full name] LIKE 'Full Name 1%' AND id BETWEEN 1 AND 150",
        dialect="tsql",
        columns={"id", "e mail", "full name"},
    )
    assert "[full name]" in where
    plan = _plan(where)
    only_customers = Plan(tables=plan.tables[1:2], secret=SECRET, batch_size=50)
    run(only_customers, src, tgt)
    expected = fetch(
        src, f"SELECT id FROM {CUSTOMERS} WHERE [full name] LIKE 'Full Name 1%' AND id <= 150"
    )
    assert sorted(fetch(tgt, f"SELECT id FROM {CUSTOMERS}")) == sorted(expected)
    assert 0 < len(expected) < 200


def test_target_trigger_fires_once_per_published_row(pair) -> None:  # type: ignore[no-untyped-def]
    """Rows reach the target by INSERT … SELECT from staging inside the run's transaction, so
    AFTER INSERT triggers on the target fire, once per statement, seeing every row; a failed or
    cancelled run rolls their effects back with it."""
    src, tgt = pair
    _seed(src, 120)
    for sql in DDL:
        execute(tgt, sql)
    execute(tgt, "CREATE TABLE dbo.seen (n int)")
    execute(
        tgt,
        "CREATE TRIGGER hr.count_lines ON hr.[order lines] AFTER INSERT AS "
        "INSERT INTO dbo.seen SELECT COUNT(*) FROM inserted",
    )
    run(_plan(batch=100), src, tgt)
    seen = fetch(tgt, "SELECT n FROM dbo.seen")
    assert sum(n for (n,) in seen) == 300


def test_case_insensitive_unique_email_of_100k_rows(pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt = pair
    execute(src, "CREATE TABLE dbo.people (id int PRIMARY KEY, email nvarchar(200) NOT NULL)")
    execute(src, "CREATE UNIQUE INDEX people_email ON dbo.people (email)")
    execute(tgt, "CREATE TABLE dbo.people (id int PRIMARY KEY, email nvarchar(200) NOT NULL)")
    execute(tgt, "CREATE UNIQUE INDEX people_email ON dbo.people (email)")
    # Mixed case, as real data has it: unique under the case-insensitive collation.
    execute(
        src,
        "INSERT INTO dbo.people VALUES (?, ?)",
        [(i, f"{'User' if i % 2 else 'user'}.{i}@Example.COM") for i in range(1, 100_001)],
    )
    plan = Plan(
        tables=(
            TablePlan(
                "dbo",
                "people",
                "dbo",
                "people",
                (ColumnRule("email", "email", "email"),),
                None,
                True,
            ),
        ),
        secret=SECRET,
        batch_size=20_000,
    )
    result = run(plan, src, tgt)
    assert result.rows_processed == 100_000
    assert fetch(tgt, "SELECT COUNT(*), COUNT(DISTINCT email) FROM dbo.people") == [
        (100_000, 100_000)
    ]
