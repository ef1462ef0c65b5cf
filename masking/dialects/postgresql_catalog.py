"""PostgreSQL catalog introspection: schemas, tables, columns with their type categories, keys
and unique constraints (unique indexes included), read from pg_catalog."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from masking.dialects import common
from masking.dialects.typemaps import POSTGRESQL_TYPES
from masking.schema import (
    ColumnInfo,
    ForeignKey,
    TableInfo,
    TableSummary,
    TypeCategory,
    UniqueConstraint,
)

# runs a catalog query with its parameters and returns the rows
Rows = Callable[..., list[tuple[Any, ...]]]

TABLE_OID = """
SELECT c.oid, greatest(c.reltuples, -1)::bigint
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
"""

COLUMNS = """
SELECT c.column_name, lower(c.data_type), c.udt_name, t.typtype,
       pg_catalog.format_type(a.atttypid, a.atttypmod), c.is_nullable = 'YES',
       c.character_maximum_length, c.numeric_precision, c.numeric_scale, c.column_default,
       c.is_identity = 'YES' OR coalesce(c.column_default, '') LIKE 'nextval(%%',
       c.is_generated = 'ALWAYS', c.ordinal_position
FROM information_schema.columns c
JOIN pg_catalog.pg_attribute a ON a.attrelid = %s AND a.attname = c.column_name
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
WHERE c.table_schema = %s AND c.table_name = %s
ORDER BY c.ordinal_position
"""

CONSTRAINTS = """
SELECT con.conname, con.contype,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
             ORDER BY k.o)::text[],
       fn.nspname, fc.relname,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
             ORDER BY k.o)::text[]
FROM pg_catalog.pg_constraint con
LEFT JOIN pg_catalog.pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
WHERE con.conrelid = %s AND con.contype IN ('p', 'u', 'f')
ORDER BY con.contype, con.conname
"""

# Unique indexes that are not backing a constraint, on plain columns and without a predicate.
UNIQUE_INDEXES = """
SELECT i.relname,
       ARRAY(SELECT a.attname FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(n, o)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.n
             ORDER BY k.o)::text[]
FROM pg_catalog.pg_index ix JOIN pg_catalog.pg_class i ON i.oid = ix.indexrelid
WHERE ix.indrelid = %s AND ix.indisunique AND NOT ix.indisprimary
  AND ix.indpred IS NULL AND ix.indexprs IS NULL
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conindid = ix.indexrelid)
ORDER BY i.relname
"""

# What a load into an empty table may drop and build after it: the primary key and unique
# constraints (constraint name, definition, NULL), then every other valid index (index name,
# NULL, CREATE statement; unique or not, partial and expression ones included: each comes back
# from its own definition). Never one a foreign key relies on, one that belongs to another
# constraint (exclusion), one of a partition that its partitioned table's key or index owns
# (it cannot be dropped alone), nor any of a partitioned table (its definitions read
# `ON ONLY`, which would not build the partitions' indexes again). Nor one carrying what its
# definition does not say (_RECREATED): the table's CLUSTER mark or replica identity, a
# tablespace of its own, a comment, column statistics targets.
_RECREATED = """
  AND NOT x.indisclustered AND NOT x.indisreplident AND xi.reltablespace = 0
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_description d
                  WHERE d.objoid = x.indexrelid
                    AND d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass)
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = x.indexrelid AND a.attstattarget >= 0)
"""
DEFERRABLE_INDEXES = f"""
SELECT con.conname, pg_catalog.pg_get_constraintdef(con.oid), NULL
FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_class t ON t.oid = con.conrelid
JOIN pg_catalog.pg_index x ON x.indexrelid = con.conindid
JOIN pg_catalog.pg_class xi ON xi.oid = con.conindid
WHERE con.conrelid = %s AND con.contype IN ('u', 'p') AND con.conparentid = 0
  AND t.relkind <> 'p'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint f
                  WHERE f.contype = 'f' AND f.conindid = con.conindid)
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_description d
                  WHERE d.objoid = con.oid
                    AND d.classoid = 'pg_catalog.pg_constraint'::pg_catalog.regclass)
  {_RECREATED}
UNION ALL
SELECT xi.relname, NULL, pg_catalog.pg_get_indexdef(x.indexrelid)
FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class xi ON xi.oid = x.indexrelid
JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
WHERE x.indrelid = %s AND NOT x.indisprimary AND x.indisvalid AND x.indisready
  AND t.relkind <> 'p'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conindid = x.indexrelid)
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhrelid = x.indexrelid)
  {_RECREATED}
ORDER BY 3 NULLS FIRST, 1
"""

OWNS_TABLE = """
SELECT pg_catalog.pg_has_role(c.relowner, 'USAGE') FROM pg_catalog.pg_class c WHERE c.oid = %s
"""


def list_schemas(rows: Rows) -> list[str]:
    return [
        r[0]
        for r in rows(
            "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
            "AND nspname <> 'information_schema' ORDER BY nspname"
        )
    ]


def list_tables(rows: Rows, schema: str) -> list[TableSummary]:
    kinds = {"r": "table", "p": "table", "v": "view", "m": "view", "f": "table"}
    found = rows(
        "SELECT c.relname, c.reltuples::bigint, c.relkind FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
        "AND NOT c.relispartition ORDER BY c.relname",
        (schema,),
    )
    # reltuples is -1 until the table is first analysed: unknown, not empty.
    return [
        TableSummary(schema, name, est if est >= 0 else None, kinds[kind])
        for name, est, kind in found
    ]


def describe_table(rows: Rows, schema: str, table: str) -> TableInfo:
    found = rows(TABLE_OID, (schema, table))
    if not found:
        raise common.not_found(schema, table)
    oid, estimate = found[0]
    primary_key: tuple[str, ...] = ()
    fks: list[ForeignKey] = []
    uniques: list[UniqueConstraint] = []
    for name, kind, cols, ref_schema, ref_table, ref_cols in rows(CONSTRAINTS, (oid,)):
        if kind == "p":
            primary_key = tuple(cols)
        elif kind == "u":
            uniques.append(UniqueConstraint(name, tuple(cols)))
        else:
            fks.append(ForeignKey(name, tuple(cols), ref_schema, ref_table, tuple(ref_cols)))
    for name, cols in rows(UNIQUE_INDEXES, (oid,)):
        uniques.append(UniqueConstraint(name, tuple(cols)))
    columns = [column_from_row(r, primary_key) for r in rows(COLUMNS, (oid, schema, table))]
    return TableInfo(
        schema,
        table,
        tuple(columns),
        primary_key,
        tuple(fks),
        tuple(uniques),
        estimate if estimate >= 0 else None,
    )


def column_from_row(r: tuple[Any, ...], primary_key: tuple[str, ...]) -> ColumnInfo:
    (
        name,
        data_type,
        udt,
        typtype,
        formatted,
        nullable,
        char_len,
        num_prec,
        num_scale,
        default,
        identity,
        generated,
        ordinal,
    ) = r
    if data_type == "array":
        native, category = re.sub(r"\(.*?\)", "", formatted), TypeCategory.OTHER
    elif data_type == "user-defined":
        if typtype == "e":
            native, category = "user-defined", TypeCategory.STRING
        else:
            native = udt.lower()
            category = POSTGRESQL_TYPES.get(native, TypeCategory.OTHER)
    else:
        native = data_type
        category = POSTGRESQL_TYPES.get(native, TypeCategory.OTHER)
    is_decimal = native in ("numeric", "decimal")
    return ColumnInfo(
        name=name,
        native_type=native,
        category=category,
        nullable=bool(nullable),
        max_length=char_len
        if category is TypeCategory.STRING or native in ("bit", "bit varying")
        else None,
        precision=num_prec if is_decimal else None,
        scale=num_scale if is_decimal else None,
        default=default,
        is_identity=bool(identity),
        is_primary_key=name in primary_key,
        is_computed=bool(generated),
        ordinal=int(ordinal),
    )
