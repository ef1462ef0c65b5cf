"""Deferred keys of an empty SQL Server target, without a server: the statements that drop
and add them back, and what the catalog must say before anything is deferred."""

from __future__ import annotations

from typing import Any

from masking.dialects import sqlserver_keys as keys
from masking.schema import TableInfo

TABLE = TableInfo("sales", "order]lines", ())


def _rows(  # type: ignore[no-untyped-def]
    table_ok: bool,
    found: list[tuple],
    columns: list[tuple],
    indexes: list[tuple] = [],  # noqa: B006 (never changed)
    referenced: list[tuple] = [],  # noqa: B006
):
    def rows(sql: str, params: Any) -> list[tuple]:
        if "sys.all_columns" in sql:
            return []
        if "HAS_PERMS_BY_NAME" in sql:
            assert params == ("[sales].[order]]lines]", "[sales].[order]]lines]")
            return [(1,)] if table_ok else [(0,)]
        if "sys.key_constraints" in sql:
            return found
        if "i.is_unique_constraint = 0" in sql:
            return indexes
        if "sys.foreign_key_columns" in sql:
            return referenced
        assert "sys.index_columns" in sql
        return columns

    return rows


FOUND = [("pk", "PK", "CLUSTERED"), ("uq]x", "UQ", "NONCLUSTERED")]
COLUMNS = [
    ("pk", "id", False, False),
    ("uq]x", "code", True, False),
    ("uq]x", "region", False, False),
]


def test_each_key_is_dropped_and_added_back_as_it_was() -> None:
    pairs = keys.deferrable(_rows(True, FOUND, COLUMNS), TABLE)
    assert pairs == [
        (
            "ALTER TABLE [sales].[order]]lines] DROP CONSTRAINT [pk]",
            "ALTER TABLE [sales].[order]]lines] ADD CONSTRAINT [pk] PRIMARY KEY CLUSTERED "
            "([id] ASC)",
        ),
        (
            "ALTER TABLE [sales].[order]]lines] DROP CONSTRAINT [uq]]x]",
            "ALTER TABLE [sales].[order]]lines] ADD CONSTRAINT [uq]]x] UNIQUE NONCLUSTERED "
            "([code] DESC, [region] ASC)",
        ),
    ]


def test_indexes_are_dropped_and_created_again_the_clustered_one_first() -> None:
    found = [("pk", "PK", "NONCLUSTERED")]
    indexes = [
        ("by_code", "UX", "NONCLUSTERED"),
        ("by]email", "UX", "CLUSTERED"),
        ("by_region", "IX", "NONCLUSTERED"),
    ]
    columns = [
        ("by]email", "email", False, False),
        ("by_code", "code", True, False),
        ("by_code", "region", False, False),
        ("by_code", "note", False, True),
        ("by_code", "when", False, True),
        ("by_region", "region", False, False),
        ("pk", "id", False, False),
    ]
    pairs = keys.deferrable(_rows(True, found, columns, indexes), TABLE)
    table = "[sales].[order]]lines]"
    assert pairs == [
        (
            f"DROP INDEX [by]]email] ON {table}",
            f"CREATE UNIQUE CLUSTERED INDEX [by]]email] ON {table} ([email] ASC)",
        ),
        (
            f"ALTER TABLE {table} DROP CONSTRAINT [pk]",
            f"ALTER TABLE {table} ADD CONSTRAINT [pk] PRIMARY KEY NONCLUSTERED ([id] ASC)",
        ),
        (
            f"DROP INDEX [by_code] ON {table}",
            f"CREATE UNIQUE NONCLUSTERED INDEX [by_code] ON {table} ([code] DESC, [region] ASC)"
            " INCLUDE ([note], [when])",
        ),
        (
            f"DROP INDEX [by_region] ON {table}",
            f"CREATE NONCLUSTERED INDEX [by_region] ON {table} ([region] ASC)",
        ),
    ]


def test_a_unique_index_a_foreign_key_relies_on_stays_in_place() -> None:
    indexes = [
        ("by_code", "UX", "NONCLUSTERED"),
        ("by_email", "UX", "NONCLUSTERED"),
        ("by_region_code", "IX", "NONCLUSTERED"),
    ]
    columns = [
        ("by_code", "code", False, False),
        ("by_code", "region", False, False),
        ("by_email", "email", False, False),
        ("by_region_code", "region", False, False),
        ("by_region_code", "code", False, False),
    ]
    # one foreign key references (region, code): the unique index on (code, region) serves
    # it; a plain index on the same columns cannot, and may go
    referenced = [(7, "region"), (7, "code"), (8, "email"), (8, "region")]
    pairs = keys.deferrable(_rows(True, [], columns, indexes, referenced), TABLE)
    assert [drop for drop, _ in pairs] == [
        "DROP INDEX [by_email] ON [sales].[order]]lines]",
        "DROP INDEX [by_region_code] ON [sales].[order]]lines]",
    ]
    # an index the catalog lists without key columns is left alone
    assert keys.deferrable(_rows(True, [], columns[2:3], indexes), TABLE) == [
        ("DROP INDEX [by_email] ON [sales].[order]]lines]", pairs[0][1])
    ]


def test_the_catalog_queries_keep_what_cannot_be_recreated_exactly() -> None:
    """What the live tests cannot reach on the stand-in (its catalog names standalone indexes
    its own way): the index query leaves Babelfish, filtered, disabled, partitioned,
    compressed, described and non-rowstore indexes out, like the constraints' query."""
    for sql in (keys.deferrable_sql(), keys.indexes_sql()):
        for clause in (
            "i.has_filter = 0",
            "i.is_disabled = 0",
            "p.partition_number > 1 OR p.data_compression <> 0",
            "s.no_recompute = 1",
            "ep.class = 7",
        ):
            assert clause in sql
        assert "optimize_for_sequential_key" not in sql
    assert "ep.class = 1 AND ep.major_id = kc.object_id" in keys.deferrable_sql()
    assert "NOT LIKE N'Babelfish%'" in keys.indexes_sql()
    assert "i.type IN (1, 2)" in keys.indexes_sql()


def test_options_of_later_versions_are_tested_where_the_catalog_has_them() -> None:
    """An index with OPTIMIZE_FOR_SEQUENTIAL_KEY, SUPPRESS_DUP_KEY_MESSAGES or a persisted
    sample percent would lose it when created again from its columns."""
    present = frozenset(keys.OPTIONAL)
    for sql in (keys.deferrable_sql(present), keys.indexes_sql(present)):
        assert "AND i.optimize_for_sequential_key = 0" in sql
        assert "AND i.suppress_dup_key_messages = 0" in sql
        assert "(s.no_recompute = 1 OR s.has_persisted_sample = 1)" in sql
    one = keys.indexes_sql(frozenset({"optimize_for_sequential_key"}))
    assert "optimize_for_sequential_key = 0" in one and "suppress_dup_key" not in one
    for name in keys.OPTIONAL:
        assert f"N'{name}'" in keys.CATALOG_OPTIONS

    asked: list[str] = []

    def rows(sql: str, params: Any) -> list[tuple]:
        asked.append(sql)
        if "sys.all_columns" in sql:
            return [("optimize_for_sequential_key",)]
        return _rows(True, FOUND, COLUMNS)(sql, params)

    assert keys.deferrable(rows, TABLE)
    key_query = next(sql for sql in asked if "sys.key_constraints" in sql)
    assert "i.optimize_for_sequential_key = 0" in key_query
    assert "has_persisted_sample" not in key_query


def test_nothing_is_deferred_when_the_table_or_catalog_says_no() -> None:
    assert keys.deferrable(_rows(False, FOUND, COLUMNS), TABLE) == []
    assert keys.deferrable(_rows(True, [], COLUMNS), TABLE) == []
    # a key whose columns the catalog does not list: every key stays in place
    assert keys.deferrable(_rows(True, FOUND, COLUMNS[:1]), TABLE) == []


class _Dialect:
    def __init__(self, in_tx: bool, empty: bool) -> None:
        self._in_tx, self.empty, self.executed = in_tx, empty, []

    def _rows(self, sql: str, params: Any = ()) -> list[tuple]:
        if sql.startswith("SELECT TOP (1) 1"):
            return [] if self.empty else [(1,)]
        return _rows(True, FOUND, COLUMNS)(sql, params)

    def execute(self, sql: str) -> None:
        self.executed.append(sql)


def test_keys_are_dropped_unique_first_only_inside_a_transaction_into_an_empty_table() -> None:
    d = _Dialect(in_tx=True, empty=True)
    adds = keys.defer(d, TABLE)
    assert [s.split()[-1] for s in d.executed] == ["[uq]]x]", "[pk]"]
    assert [a.split()[5] for a in adds] == ["[pk]", "[uq]]x]"]
    for in_tx, empty in [(False, True), (True, False)]:
        other = _Dialect(in_tx, empty)
        assert keys.defer(other, TABLE) == [] and other.executed == []
