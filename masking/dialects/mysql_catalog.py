"""MySQL/MariaDB introspection from information_schema: tables, columns with their type
categories (MariaDB's JSON recovered from its check constraint), keys and unique constraints."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from masking.dialects import common
from masking.dialects.typemaps import MYSQL_TYPES
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

UNBOUNDED = {"longtext", "longblob", "json"}

COLUMNS = """
SELECT column_name, lower(data_type), lower(column_type), is_nullable = 'YES',
       character_maximum_length, numeric_precision, numeric_scale, column_default,
       lower(extra), ordinal_position
FROM information_schema.columns
WHERE table_schema = %s AND table_name = %s
ORDER BY ordinal_position
"""


def list_tables(rows: Rows, database: str, schema: str) -> list[TableSummary]:
    found_rows = rows(
        "SELECT table_name, table_rows, table_type FROM information_schema.tables "
        "WHERE table_schema = %s ORDER BY table_name",
        (schema or database,),
    )
    # Sorted here: the server's order depends on the catalog collation.
    return [
        TableSummary(
            schema,
            name,
            None if est is None else int(est),
            "view" if "VIEW" in kind else "table",
        )
        for name, est, kind in sorted(found_rows, key=lambda r: r[0])
    ]


def describe_table(rows: Rows, database: str, schema: str, table: str) -> TableInfo:
    schema = schema or database
    found = rows(
        "SELECT table_rows FROM information_schema.tables "
        "WHERE table_schema = %s AND table_name = %s",
        (schema, table),
    )
    if not found:
        raise common.not_found(schema, table)
    keys: dict[str, list[str]] = {}
    for index, col in rows(
        "SELECT index_name, column_name FROM information_schema.statistics "
        "WHERE table_schema = %s AND table_name = %s AND non_unique = 0 "
        "AND column_name IS NOT NULL ORDER BY index_name, seq_in_index",
        (schema, table),
    ):
        keys.setdefault(index, []).append(col)
    primary_key = tuple(keys.pop("PRIMARY", ()))
    uniques = tuple(UniqueConstraint(n, tuple(c)) for n, c in sorted(keys.items()))
    fks: dict[str, list[Any]] = {}
    for name, col, ref_schema, ref_table, ref_col in rows(
        "SELECT constraint_name, column_name, referenced_table_schema, "
        "referenced_table_name, referenced_column_name "
        "FROM information_schema.key_column_usage "
        "WHERE table_schema = %s AND table_name = %s AND referenced_table_name IS NOT NULL "
        "ORDER BY constraint_name, ordinal_position",
        (schema, table),
    ):
        fks.setdefault(name, []).append((col, ref_schema, ref_table, ref_col))
    foreign_keys = tuple(
        ForeignKey(
            n, tuple(p[0] for p in parts), parts[0][1], parts[0][2], tuple(p[3] for p in parts)
        )
        for n, parts in sorted(fks.items())
    )
    json_cols = json_columns(rows, schema, table)
    columns = tuple(
        column_from_row(r, primary_key, json_cols) for r in rows(COLUMNS, (schema, table))
    )
    est = found[0][0]
    return TableInfo(
        schema,
        table,
        columns,
        primary_key,
        foreign_keys,
        uniques,
        None if est is None else int(est),
    )


def json_columns(rows: Rows, schema: str, table: str) -> set[str]:
    """MariaDB's JSON is LONGTEXT plus a json_valid() check; recover the intent."""
    try:
        found_rows = rows(
            "SELECT check_clause FROM information_schema.check_constraints "
            "WHERE constraint_schema = %s AND table_name = %s",
            (schema, table),
        )
    except Exception:  # noqa: BLE001 - MySQL 5.7 has no such view
        return set()
    found = set()
    for (clause,) in found_rows:
        m = re.fullmatch(r"\s*json_valid\(`((?:[^`]|``)+)`\)\s*", clause or "", re.I)
        if m:
            found.add(m.group(1).replace("``", "`"))
    return found


def column_from_row(
    r: tuple[Any, ...], primary_key: tuple[str, ...], json_cols: set[str]
) -> ColumnInfo:
    (
        name,
        data_type,
        column_type,
        nullable,
        char_len,
        num_prec,
        num_scale,
        default,
        extra,
        ordinal,
    ) = r
    native = data_type
    if column_type.startswith("tinyint(1)") and "unsigned" not in column_type:
        native = "tinyint(1)"
    elif column_type == "bit(1)":
        native = "bit(1)"
    elif "unsigned" in column_type and data_type in (
        "tinyint",
        "smallint",
        "mediumint",
        "int",
        "integer",
        "bigint",
    ):
        native = f"{data_type} unsigned"
    if name in json_cols:
        native = "json"
    category = MYSQL_TYPES.get(native, TypeCategory.OTHER)
    max_length = None
    if category in (TypeCategory.STRING, TypeCategory.BINARY) and native not in UNBOUNDED:
        max_length = int(char_len) if char_len is not None else None
    if native == "bit":
        max_length = int(num_prec) if num_prec is not None else None  # width in bits
    is_decimal = native in ("decimal", "numeric")
    if isinstance(default, str) and default.upper() == "NULL":
        default = None  # MariaDB reports "no default" as the text NULL
    return ColumnInfo(
        name=name,
        native_type=native,
        category=category,
        nullable=bool(nullable),
        max_length=max_length,
        precision=int(num_prec) if is_decimal else None,
        scale=int(num_scale) if is_decimal else None,
        default=default,
        is_identity="auto_increment" in extra,
        is_primary_key=name in primary_key,
        is_computed="generated" in extra and "default_generated" not in extra,
        ordinal=int(ordinal),
    )
