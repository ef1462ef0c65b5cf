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
    # browsing: the user's schemas (dbo among them), none of the system's or the roles'
    assert src.list_schemas() == ["dbo", "hr", "sales dept"]
    listed = {t.name: t.row_estimate for t in src.list_tables("sales dept")}
    assert set(listed) == {"cust omers"}
    assert listed["cust omers"] in (None, 200)  # an estimate, or none where the server keeps none
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


EVENTS = "dbo.events"  # IDENTITY_INSERT on a name with a space fails on the stand-in
EVENTS_DDL = f"CREATE TABLE {EVENTS} (id int IDENTITY(1, 1) PRIMARY KEY, msg nvarchar(50))"


def _truncate_pair(src: Dialect, tgt: Dialect) -> None:
    _seed(src, 20)
    for sql in DDL:
        execute(tgt, sql)
    for d in (src, tgt):
        execute(d, EVENTS_DDL)
        execute(d, "CREATE TABLE dbo.audited (id int PRIMARY KEY)")
    execute(src, f"INSERT INTO {EVENTS} (msg) VALUES (?)", [(f"event {i}",) for i in range(30)])
    execute(src, "INSERT INTO dbo.audited VALUES (?)", [(i,) for i in range(7)])
    # The target's own rows: numbered up to 1000, and a table whose deletions are audited.
    values = ", ".join(f"({1000 - i}, N'old')" for i in range(5))
    execute(
        tgt,
        f"SET IDENTITY_INSERT {EVENTS} ON; INSERT INTO {EVENTS} (id, msg) VALUES {values}; "
        f"SET IDENTITY_INSERT {EVENTS} OFF",
    )
    execute(tgt, "INSERT INTO dbo.audited VALUES (?)", [(100 + i,) for i in range(4)])
    execute(tgt, "CREATE TABLE dbo.gone (n int)")
    execute(
        tgt,
        "CREATE TRIGGER dbo.audit_deletes ON dbo.audited AFTER DELETE AS "
        "INSERT INTO dbo.gone SELECT COUNT(*) FROM deleted",
    )


def _all_tables_plan() -> Plan:
    extra = tuple(
        TablePlan("dbo", name, "dbo", name, (), None, True) for name in ("events", "audited")
    )
    return Plan(tables=_plan().tables + extra, secret=SECRET, batch_size=500)


def test_truncate_mode_truncates_where_that_is_exactly_a_delete(pair) -> None:  # type: ignore[no-untyped-def]
    """TRUNCATE for a table without foreign keys or DELETE triggers (its IDENTITY counter starts
    again, so it ends at the largest id written), DELETE for the others: the audited table's
    trigger sees its rows go, and the tables joined by a foreign key are emptied child first."""
    from masking.dialects import sqlserver_clear

    src, tgt = pair
    _truncate_pair(src, tgt)
    said = {
        name: sqlserver_clear.truncatable(tgt._rows, tgt.describe_table(schema, name))
        for schema, name in [("dbo", "events"), ("dbo", "audited"), ("dbo", "log lines"),
                             ("hr", "order lines"), ("sales dept", "cust omers")]
    }  # fmt: skip
    assert said == {"events": True, "audited": False, "log lines": True,
                    "order lines": False, "cust omers": False}  # fmt: skip
    run(_all_tables_plan(), src, tgt)
    assert fetch(tgt, f"SELECT IDENT_CURRENT('{EVENTS}')") == [(30,)]  # a DELETE leaves 1000
    assert sorted(fetch(tgt, f"SELECT id, msg FROM {EVENTS}")) == sorted(
        fetch(src, f"SELECT id, msg FROM {EVENTS}")
    )
    assert fetch(tgt, "SELECT n FROM dbo.gone") == [(4,)]
    assert sorted(fetch(tgt, "SELECT id FROM dbo.audited")) == [(i,) for i in range(7)]
    assert fetch(tgt, f"SELECT COUNT(*) FROM {CUSTOMERS}") == [(20,)]


def test_a_failed_run_brings_truncated_rows_and_their_counter_back(pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt = pair
    _truncate_pair(src, tgt)
    execute(src, f"UPDATE {EVENTS} SET msg = N'same'")  # the target's index refuses the copies
    execute(tgt, f"UPDATE {EVENTS} SET msg = CONCAT(N'old ', id)")
    execute(tgt, f"CREATE UNIQUE INDEX event_msg ON {EVENTS} (msg)")
    tables = ("events", "audited", "log lines")
    before = {t: sorted(fetch(tgt, f"SELECT * FROM dbo.[{t}]")) for t in tables}
    with pytest.raises(Exception, match="unique|duplicate"):
        run(_all_tables_plan(), src, tgt)
    assert {t: sorted(fetch(tgt, f"SELECT * FROM dbo.[{t}]")) for t in tables} == before
    assert fetch(tgt, f"SELECT IDENT_CURRENT('{EVENTS}')") == [(1000,)]
    assert fetch(tgt, "SELECT COUNT(*) FROM dbo.gone") == [(0,)]
