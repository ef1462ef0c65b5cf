"""SQL Server: the primary key, unique constraints and other indexes of an empty target table
are dropped for its load and added back after it, inside the run's transaction.

Masked values arrive in random order; keeping a B-tree in order row by row costs far more than
building it once, sorted, after the load (the same reason the PostgreSQL target defers its
indexes). The DDL is part of the run's transaction: the table stays locked, a rollback
restores every constraint as it was, and a duplicate surfaces when the constraint is added
back (error 1505, reported as a `unique` failure).

Only what can be re-created exactly is deferred: a PRIMARY KEY or UNIQUE constraint, or a
rowstore index, unique or not (with its included columns), that no foreign key references,
without a filter or description, on the default filegroup, not partitioned or compressed,
with default index options (including those later versions added, such as
OPTIMIZE_FOR_SEQUENTIAL_KEY), on a table that is not tracked by change data capture,
replicated, system-versioned, memory-optimized or a FileTable, and without full-text indexes.
Everything else loads with its indexes in place, as before. The login needs ALTER on the
table.

Indexes that are not constraints stay in place on Babelfish: its catalog lists them
under a name of its own (the index name, the table name and a digest), which DROP INDEX does
not accept, and its sys.indexes reports a clustered one as nonclustered."""

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
# An index re-created by name from its columns alone: default options, default filegroup,
# one uncompressed partition, no extended property (a description would be lost). Options
# newer servers added to the catalog (OPTIONAL) join the test where the catalog has them.
_PLAIN_INDEX = """
  i.is_disabled = 0 AND i.has_filter = 0 AND i.fill_factor = 0 AND i.ignore_dup_key = 0
  AND i.is_padded = 0 AND i.allow_row_locks = 1 AND i.allow_page_locks = 1{index_options}
  AND (i.data_space_id = 0 OR i.data_space_id IN
       (SELECT ds.data_space_id FROM sys.data_spaces ds WHERE ds.is_default = 1))
  AND NOT EXISTS (SELECT 1 FROM sys.partitions p
                  WHERE p.object_id = i.object_id AND p.index_id = i.index_id
                    AND (p.partition_number > 1 OR p.data_compression <> 0))
  AND NOT EXISTS (SELECT 1 FROM sys.stats s
                  WHERE s.object_id = i.object_id AND s.stats_id = i.index_id
                    AND (s.no_recompute = 1{stats_options}))
  AND NOT EXISTS (SELECT 1 FROM sys.extended_properties ep
                  WHERE ep.class = 7 AND ep.major_id = i.object_id AND ep.minor_id = i.index_id)
"""
# Catalog columns of later versions (2017: suppress_dup_key_messages; 2019 and Azure SQL:
# optimize_for_sequential_key; 2016 SP1 CU4: a persisted sample percent), each with the test
# an index must pass to be re-created without losing it. A server whose catalog lacks one
# cannot have set it.
OPTIONAL = {
    "optimize_for_sequential_key": ("index", "i.optimize_for_sequential_key = 0"),
    "suppress_dup_key_messages": ("index", "i.suppress_dup_key_messages = 0"),
    "has_persisted_sample": ("stats", "s.has_persisted_sample = 1"),
}
CATALOG_OPTIONS = f"""
SELECT c.name FROM sys.all_columns c
WHERE c.object_id IN (OBJECT_ID(N'sys.indexes'), OBJECT_ID(N'sys.stats'))
  AND c.name IN ({", ".join(f"N'{name}'" for name in OPTIONAL)})
"""


def plain_index(present: frozenset[str] = frozenset()) -> str:
    """The test an index passes to be deferred, with the OPTIONAL columns `present`."""
    index = "".join(
        f" AND {test}"
        for name, (kind, test) in OPTIONAL.items()
        if kind == "index" and name in present
    )
    stats = "".join(
        f" OR {test}"
        for name, (kind, test) in OPTIONAL.items()
        if kind == "stats" and name in present
    )
    return _PLAIN_INDEX.format(index_options=index, stats_options=stats)


# Constraints are matched to their index by name (SQL Server names the index after the
# constraint); key_constraints.unique_index_id and foreign_keys.key_index_id agree with each
# other on every server seen, sys.indexes.index_id with them only on SQL Server itself.
def deferrable_sql(present: frozenset[str] = frozenset()) -> str:
    return f"""
SELECT kc.name, kc.type, i.type_desc
FROM sys.key_constraints kc
JOIN sys.indexes i ON i.object_id = kc.parent_object_id AND i.name = kc.name
WHERE kc.parent_object_id = OBJECT_ID(?)
  AND NOT EXISTS (SELECT 1 FROM sys.foreign_keys fk
                  WHERE fk.referenced_object_id = kc.parent_object_id
                    AND fk.key_index_id = kc.unique_index_id)
  AND NOT EXISTS (SELECT 1 FROM sys.extended_properties ep
                  WHERE ep.class = 1 AND ep.major_id = kc.object_id AND ep.minor_id = 0)
  AND {plain_index(present)}
ORDER BY CASE kc.type WHEN 'PK' THEN 0 ELSE 1 END, kc.name
"""


# Indexes that are not constraints (kind 'UX' when unique, 'IX' when not). Which unique one a
# foreign key relies on is decided from the columns (REFERENCED), as key_index_id is not
# comparable with sys.indexes.index_id on every server.
def indexes_sql(present: frozenset[str] = frozenset()) -> str:
    return f"""
SELECT i.name, CASE WHEN i.is_unique = 1 THEN 'UX' ELSE 'IX' END, i.type_desc
FROM sys.indexes i
WHERE i.object_id = OBJECT_ID(?) AND i.is_primary_key = 0
  AND i.is_unique_constraint = 0 AND i.type IN (1, 2) AND i.is_hypothetical = 0
  AND CAST(@@VERSION AS nvarchar(200)) NOT LIKE N'Babelfish%'
  AND {plain_index(present)}
ORDER BY i.name
"""


REFERENCED = """
SELECT fkc.constraint_object_id, c.name
FROM sys.foreign_key_columns fkc
JOIN sys.columns c ON c.object_id = fkc.referenced_object_id
                  AND c.column_id = fkc.referenced_column_id
WHERE fkc.referenced_object_id = OBJECT_ID(?)
"""
KEY_COLUMNS = """
SELECT i.name, c.name, ic.is_descending_key, ic.is_included_column
FROM sys.indexes i
JOIN sys.index_columns ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id
JOIN sys.columns c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
WHERE i.object_id = OBJECT_ID(?) AND (ic.key_ordinal > 0 OR ic.is_included_column = 1)
ORDER BY i.name, ic.is_included_column, ic.key_ordinal, ic.index_column_id
"""


def _literal(table: TableInfo) -> str:
    return q.qualified(table.schema, table.name)


def add_statement(
    table: TableInfo,
    name: str,
    kind: str,
    type_desc: str,
    columns: Sequence[tuple[str, bool]],
    included: Sequence[str] = (),
) -> str:
    """The statement re-creating a key: a constraint (kind PK or UQ) or an index (UX unique,
    IX not)."""
    clustered = "CLUSTERED" if _clustered(type_desc) else "NONCLUSTERED"
    keys = ", ".join(f"{q.quote(c)} {'DESC' if desc else 'ASC'}" for c, desc in columns)
    if kind.strip() in _INDEX_KINDS:
        include = f" INCLUDE ({', '.join(q.quote(c) for c in included)})" if included else ""
        unique = "UNIQUE " if kind.strip() == "UX" else ""
        return (
            f"CREATE {unique}{clustered} INDEX {q.quote(name)} ON {_literal(table)} ({keys})"
            + include
        )
    what = "PRIMARY KEY" if kind.strip() == "PK" else "UNIQUE"
    return (
        f"ALTER TABLE {_literal(table)} ADD CONSTRAINT {q.quote(name)} {what} {clustered} ({keys})"
    )


_INDEX_KINDS = ("UX", "IX")


def _clustered(type_desc: str) -> bool:
    return type_desc.strip().upper() == "CLUSTERED"


def _drop_statement(table: TableInfo, name: str, kind: str) -> str:
    if kind.strip() in _INDEX_KINDS:
        return f"DROP INDEX {q.quote(name)} ON {_literal(table)}"
    return f"ALTER TABLE {_literal(table)} DROP CONSTRAINT {q.quote(name)}"


def deferrable(rows: Rows, table: TableInfo) -> list[tuple[str, str]]:
    """(DROP, ADD) statements for the keys of `table` that may be deferred, in the order to
    add them back (a clustered one first, so the others are built once, on it); empty when
    none may."""
    name = _literal(table)
    ok = rows(_TABLE_OK, (name, name))
    if not ok or not ok[0][0]:
        return []
    present = frozenset(str(r[0]) for r in rows(CATALOG_OPTIONS, ()))
    found = list(rows(deferrable_sql(present), (name,)))
    indexes = list(rows(indexes_sql(present), (name,)))
    if not found and not indexes:
        return []
    referenced: dict[Any, set[str]] = {}
    if indexes:
        for fk, column in rows(REFERENCED, (name,)):
            referenced.setdefault(fk, set()).add(column)
    keys: dict[str, list[tuple[str, bool]]] = {}
    included: dict[str, list[str]] = {}
    for index, column, desc, is_included in rows(KEY_COLUMNS, (name,)):
        if is_included:
            included.setdefault(index, []).append(column)
        else:
            keys.setdefault(index, []).append((column, bool(desc)))
    for iname, kind, type_desc in indexes:
        columns = {c for c, _ in keys.get(iname, ())}
        if columns and (kind.strip() != "UX" or columns not in referenced.values()):
            found.append((iname, kind, type_desc))
    out = []
    # a clustered key first (sorted() keeps the catalog's order otherwise: the primary key,
    # then the unique constraints, then the indexes)
    for kname, kind, type_desc in sorted(found, key=lambda f: not _clustered(f[2])):
        if not keys.get(kname) or (kind.strip() not in _INDEX_KINDS and included.get(kname)):
            return []  # the catalog does not describe it as expected: keep every key in place
        statement = add_statement(
            table, kname, kind, type_desc, keys[kname], included.get(kname, ())
        )
        out.append((_drop_statement(table, kname, kind), statement))
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
        d._empty(table, columns)
        adds = defer(d, table)
        for sql in [*q.publish(stage, table, columns, d._has_identity(table, columns)), *adds]:
            d.execute(sql)
