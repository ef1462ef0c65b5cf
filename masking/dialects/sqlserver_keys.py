"""SQL Server: the primary key and unique constraints of an empty target table are dropped for
its load and added back after it, inside the run's transaction.

Masked keys arrive in random order; keeping a B-tree in order row by row costs far more than
building it once, sorted, after the load (the same reason the PostgreSQL target defers its
unique indexes). The DDL is part of the run's transaction: the table stays locked, a rollback
restores every constraint as it was, and a duplicate surfaces when the constraint is added
back (error 1505, reported as a `unique` failure).

Only what can be re-created exactly is deferred: a PRIMARY KEY or UNIQUE constraint that no
foreign key references, on the default filegroup, not partitioned or compressed, with default
index options, on a table that is not tracked by change data capture, replicated, system-
versioned, memory-optimized or a FileTable, and without full-text indexes. Everything else
loads with its indexes in place, as before. The login needs ALTER on the table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from masking.dialects import sqlserver_sql as q
from masking.schema import TableInfo

Rows = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]

_TABLE_OK = """
SELECT CASE WHEN HAS_PERMS_BY_NAME(?, 'OBJECT', 'ALTER') = 1
    AND NOT EXISTS (SELECT 1 FROM sys.fulltext_indexes f WHERE f.object_id = t.object_id)
    THEN 1 ELSE 0 END
FROM sys.tables t
WHERE t.object_id = OBJECT_ID(?) AND t.is_tracked_by_cdc = 0 AND t.temporal_type = 0
  AND t.is_memory_optimized = 0 AND t.is_replicated = 0 AND t.is_merge_published = 0
  AND t.is_filetable = 0
"""
# Constraints are matched to their index by name (SQL Server names the index after the
# constraint); key_constraints.unique_index_id and foreign_keys.key_index_id agree with each
# other on every server seen, sys.indexes.index_id with them only on SQL Server itself.
DEFERRABLE = """
SELECT kc.name, kc.type, i.type_desc
FROM sys.key_constraints kc
JOIN sys.indexes i ON i.object_id = kc.parent_object_id AND i.name = kc.name
WHERE kc.parent_object_id = OBJECT_ID(?)
  AND NOT EXISTS (SELECT 1 FROM sys.foreign_keys fk
                  WHERE fk.referenced_object_id = kc.parent_object_id
                    AND fk.key_index_id = kc.unique_index_id)
  AND i.is_disabled = 0 AND i.has_filter = 0 AND i.fill_factor = 0 AND i.ignore_dup_key = 0
  AND i.is_padded = 0 AND i.allow_row_locks = 1 AND i.allow_page_locks = 1
  AND (i.data_space_id = 0 OR i.data_space_id IN
       (SELECT ds.data_space_id FROM sys.data_spaces ds WHERE ds.is_default = 1))
  AND NOT EXISTS (SELECT 1 FROM sys.partitions p
                  WHERE p.object_id = i.object_id AND p.index_id = i.index_id
                    AND (p.partition_number > 1 OR p.data_compression <> 0))
ORDER BY CASE kc.type WHEN 'PK' THEN 0 ELSE 1 END, kc.name
"""
KEY_COLUMNS = """
SELECT i.name, c.name, ic.is_descending_key
FROM sys.indexes i
JOIN sys.index_columns ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id
JOIN sys.columns c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
WHERE i.object_id = OBJECT_ID(?) AND ic.key_ordinal > 0
ORDER BY i.name, ic.key_ordinal
"""


def _literal(table: TableInfo) -> str:
    return q.qualified(table.schema, table.name)


def add_statement(
    table: TableInfo, name: str, kind: str, type_desc: str, columns: Sequence[tuple[str, bool]]
) -> str:
    what = "PRIMARY KEY" if kind.strip() == "PK" else "UNIQUE"
    clustered = "CLUSTERED" if type_desc.strip().upper() == "CLUSTERED" else "NONCLUSTERED"
    keys = ", ".join(f"{q.quote(c)} {'DESC' if desc else 'ASC'}" for c, desc in columns)
    return (
        f"ALTER TABLE {_literal(table)} ADD CONSTRAINT {q.quote(name)} {what} {clustered} ({keys})"
    )


def deferrable(rows: Rows, table: TableInfo) -> list[tuple[str, str]]:
    """(DROP, ADD) statements for the constraints of `table` that may be deferred, in the
    order to add them back (the primary key first); empty when none may."""
    name = _literal(table)
    ok = rows(_TABLE_OK, (name, name))
    if not ok or not ok[0][0]:
        return []
    found = rows(DEFERRABLE, (name,))
    if not found:
        return []
    columns: dict[str, list[tuple[str, bool]]] = {}
    for index, column, desc in rows(KEY_COLUMNS, (name,)):
        columns.setdefault(index, []).append((column, bool(desc)))
    out = []
    for cname, kind, type_desc in found:
        if not columns.get(cname):
            return []  # the catalog does not describe it fully: keep every key in place
        drop = f"ALTER TABLE {name} DROP CONSTRAINT {q.quote(cname)}"
        out.append((drop, add_statement(table, cname, kind, type_desc, columns[cname])))
    return out


def is_empty(rows: Rows, table: TableInfo) -> bool:
    return not rows(f"SELECT TOP (1) 1 FROM {_literal(table)}", ())


def defer(dialect: Any, table: TableInfo) -> list[str]:
    """Into an empty table, inside the run's transaction: drop what may be deferred and return
    the statements adding it back (for end_load, or after a publish's insert)."""
    if not dialect._in_tx or not is_empty(dialect._rows, table):
        return []
    pairs = deferrable(dialect._rows, table)
    for drop, _ in reversed(pairs):  # unique constraints before the (maybe clustered) key
        dialect.execute(drop)
    return [add for _, add in pairs]


class StagedPublish:
    """Staged runs (masking.staged): staging tables in the target made by SELECT ... INTO,
    published by one INSERT ... SELECT per table, its deferrable keys added back after it."""

    def create_stage_sql(self, stage: str, table: str, columns: str) -> str:
        return q.create_stage(stage, table, columns)

    def publish_from(self, stage: TableInfo, table: TableInfo, columns: Sequence[str]) -> None:
        d: Any = self
        adds = defer(d, table)
        for sql in [*q.publish(stage, table, columns, d._has_identity(table, columns)), *adds]:
            d.execute(sql)
