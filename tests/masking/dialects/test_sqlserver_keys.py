"""Deferred keys of an empty SQL Server target, without a server: the statements that drop
and add them back, and what the catalog must say before anything is deferred."""

from __future__ import annotations

from typing import Any

from masking.dialects import sqlserver_keys as keys
from masking.schema import TableInfo

TABLE = TableInfo("sales", "order]lines", ())


def _rows(table_ok: bool, found: list[tuple], columns: list[tuple]):  # type: ignore[no-untyped-def]
    def rows(sql: str, params: Any) -> list[tuple]:
        if "HAS_PERMS_BY_NAME" in sql:
            assert params == ("[sales].[order]]lines]", "[sales].[order]]lines]")
            return [(1,)] if table_ok else [(0,)]
        if "sys.key_constraints" in sql:
            return found
        assert "sys.index_columns" in sql
        return columns

    return rows


FOUND = [("pk", "PK", "CLUSTERED"), ("uq]x", "UQ", "NONCLUSTERED")]
COLUMNS = [("pk", "id", False), ("uq]x", "code", True), ("uq]x", "region", False)]


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
