"""SQL Server targets: an empty table's primary key and unique constraints are dropped for the
load and added back after it, in the run's transaction. They come back exactly as they were;
a duplicate fails the run as a `unique` failure and leaves the target as it was; a key that a
foreign key references, and any key on a table the login may not alter, stay in place."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from masking import run
from masking.dialects import get_dialect
from masking.dialects import sqlserver_keys as keys
from masking.dialects.base import ConnectionParams, Dialect
from masking.errors import MaskingError
from masking.plan import ColumnRule, Plan, TablePlan
from masking.staged import run_staged
from tests.masking.test_pipeline import execute, fetch

pytestmark = [pytest.mark.live, pytest.mark.sqlserver]

SECRET = b"keys-secret-0123456789abcdef0123"
PEOPLE = (
    "CREATE TABLE dbo.people (id int NOT NULL, email nvarchar(120) NOT NULL, "
    "code nvarchar(20) NULL, region int NULL, CONSTRAINT people_pk PRIMARY KEY (id), "
    "CONSTRAINT people_email UNIQUE (email), CONSTRAINT people_code UNIQUE (code DESC, region))"
)
SHAPE = (
    "SELECT kc.name, kc.type, c.name, ic.is_descending_key FROM sys.key_constraints kc "
    "JOIN sys.indexes i ON i.object_id = kc.parent_object_id AND i.name = kc.name "
    "JOIN sys.index_columns ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id "
    "JOIN sys.columns c ON c.object_id = ic.object_id AND c.column_id = ic.column_id "
    "WHERE kc.parent_object_id = OBJECT_ID('dbo.people') AND ic.key_ordinal > 0 "
    "ORDER BY kc.name, ic.key_ordinal"
)


def _plan(rules: tuple[ColumnRule, ...]) -> Plan:
    return Plan(
        tables=(TablePlan("dbo", "people", "dbo", "people", rules, None, True),),
        secret=SECRET,
        batch_size=500,
    )


@pytest.fixture
def pair(sqlserver_db_factory: Callable[[], ConnectionParams]):  # type: ignore[no-untyped-def]
    src, tgt = get_dialect(sqlserver_db_factory()), get_dialect(sqlserver_db_factory())
    for d in (src, tgt):
        execute(d, PEOPLE)
    rows = [(i, f"person{i}@example.org", f"c{i % 50}", i // 50) for i in range(1, 2001)]
    execute(src, "INSERT INTO dbo.people VALUES (?, ?, ?, ?)", rows)
    yield src, tgt
    src.close()
    tgt.close()


def test_keys_come_back_exactly_as_they_were(pair: tuple[Dialect, Dialect]) -> None:
    src, tgt = pair
    shape = fetch(tgt, SHAPE)
    info = tgt.describe_table("dbo", "people")
    with tgt.transaction():
        assert len(keys.deferrable(tgt._rows, info)) == 3  # all three may be deferred
    result = run(_plan((ColumnRule("email", "email", "email"),)), src, tgt)
    assert result.rows_processed == 2000
    assert fetch(tgt, SHAPE) == shape
    assert fetch(tgt, "SELECT COUNT(DISTINCT email) FROM dbo.people") == [(2000,)]
    with pytest.raises(Exception, match="(?i)duplicate|unique"):
        execute(tgt, "INSERT INTO dbo.people VALUES (1, 'x@y.org', NULL, NULL)")


def test_a_duplicate_fails_as_unique_and_leaves_the_target_as_it_was(
    pair: tuple[Dialect, Dialect],
) -> None:
    src, tgt = pair
    execute(tgt, "INSERT INTO dbo.people VALUES (9999, 'kept@example.org', NULL, NULL)")
    shape = fetch(tgt, SHAPE)
    # every code masked alike: the 50 rows of a region repeat one (code, region) pair, which
    # only the composite constraint can see, when it is added back
    rule = ColumnRule("code", "code", "fixed_value", {"value": "X"})
    plan = _plan((rule,))
    with pytest.raises(MaskingError) as info:
        run(plan, src, tgt)
    assert "unique" in str(info.value)
    assert "person" not in str(info.value)
    assert fetch(tgt, "SELECT id, email FROM dbo.people") == [(9999, "kept@example.org")]
    assert fetch(tgt, SHAPE) == shape


def test_a_referenced_key_stays_in_place(pair: tuple[Dialect, Dialect]) -> None:
    src, tgt = pair
    execute(tgt, "CREATE TABLE dbo.notes (id int PRIMARY KEY, person_id int "
                 "CONSTRAINT notes_person REFERENCES dbo.people (id))")  # fmt: skip
    info = tgt.describe_table("dbo", "people")
    with tgt.transaction():
        names = [add for _, add in keys.deferrable(tgt._rows, info)]
    assert not any("people_pk" in a for a in names) and len(names) == 2
    run(_plan(()), src, tgt)
    assert fetch(tgt, "SELECT COUNT(*) FROM dbo.people") == [(2000,)]
    assert fetch(tgt, SHAPE) == fetch(src, SHAPE)


def test_a_staged_publish_adds_the_keys_back(pair: tuple[Dialect, Dialect]) -> None:
    src, tgt = pair
    shape = fetch(tgt, SHAPE)
    result = run_staged(
        _plan((ColumnRule("email", "email", "email"),)), src, tgt, "k1", unit_rows=400
    )
    assert result.rows_processed == 2000
    assert fetch(tgt, SHAPE) == shape
    assert fetch(tgt, "SELECT COUNT(*) FROM dbo.people") == [(2000,)]


def test_no_key_is_deferred_outside_a_transaction_or_into_a_table_with_rows(
    pair: tuple[Dialect, Dialect],
) -> None:
    src, _ = pair
    info = src.describe_table("dbo", "people")
    assert keys.defer(src, info) == []  # not in a transaction
    with src.transaction():
        assert keys.defer(src, info) == []  # rows are there
    assert fetch(src, SHAPE)  # nothing was dropped


def test_a_unique_index_loads_in_place_on_a_server_whose_catalog_renames_it(
    pair: tuple[Dialect, Dialect],
) -> None:
    """The stand-in lists a CREATE UNIQUE INDEX under a name DROP INDEX does not take: such an
    index is not deferred (the constraints still are), and it still holds after the run."""
    src, tgt = pair
    execute(tgt, "CREATE UNIQUE INDEX people_region ON dbo.people (region, id) INCLUDE (code)")
    info = tgt.describe_table("dbo", "people")
    with tgt.transaction():
        adds = [add for _, add in keys.deferrable(tgt._rows, info)]
    assert len(adds) == 3 and not any("CREATE" in a for a in adds)
    run(_plan((ColumnRule("email", "email", "email"),)), src, tgt)
    assert fetch(tgt, "SELECT COUNT(*) FROM dbo.people") == [(2000,)]
    index = (
        "SELECT COUNT(*) FROM sys.indexes WHERE object_id = OBJECT_ID('dbo.people') "
        "AND name LIKE 'people_region%' AND is_unique = 1"
    )
    assert fetch(tgt, index) == [(1,)]
    assert fetch(tgt, SHAPE) == fetch(src, SHAPE)
