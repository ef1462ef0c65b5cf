"""SQLite introspection: tables, columns with their type categories, keys and constraints."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from typing import Any

from masking.dialects import common
from masking.dialects.typemaps import sqlite_category
from masking.schema import (
    ColumnInfo,
    ForeignKey,
    TableInfo,
    TableSummary,
    TypeCategory,
    UniqueConstraint,
)

Quote = Callable[[str], str]
# Counting a huge table only to show an estimate is not worth it.
ROW_ESTIMATE_CAP = 1_000_000
_TYPE_ARGS = re.compile(r"\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")


def list_tables(conn: sqlite3.Connection, quote: Quote) -> list[TableSummary]:
    rows = conn.execute(
        "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
    ).fetchall()
    return [
        TableSummary("main", name, estimate(conn, quote, name) if kind == "table" else None, kind)
        for name, kind in rows
    ]


def estimate(conn: sqlite3.Connection, quote: Quote, table: str) -> int:
    sql = f"SELECT count(*) FROM (SELECT 1 FROM {quote(table)} LIMIT ?)"
    return int(conn.execute(sql, (ROW_ESTIMATE_CAP,)).fetchone()[0])


def describe_table(conn: sqlite3.Connection, quote: Quote, schema: str, table: str) -> TableInfo:
    row = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    if row is None:
        raise common.not_found(schema or "main", table)
    without_rowid = bool(re.search(r"\)\s*without\s+rowid\s*;?\s*$", row[0] or "", re.I))
    info = conn.execute(
        'SELECT cid, name, type, "notnull", dflt_value, pk, hidden '
        "FROM pragma_table_xinfo(?) ORDER BY cid",
        (table,),
    ).fetchall()
    pk_cols = [r for r in info if r[5]]
    pk_cols.sort(key=lambda r: r[5])
    primary_key = tuple(r[1] for r in pk_cols)
    rowid_alias = (
        len(pk_cols) == 1 and pk_cols[0][2].strip().upper() == "INTEGER" and not without_rowid
    )
    columns = []
    for i, (_cid, name, declared, notnull, default, pk, hidden) in enumerate(info):
        if hidden == 1:
            continue
        native = declared.lower().strip()
        base = native.split("(")[0].strip()
        m = _TYPE_ARGS.search(native)
        category = sqlite_category(native)
        max_length = precision = scale = None
        if m:
            if category is TypeCategory.NUMERIC:
                precision = int(m.group(1))
                scale = int(m.group(2)) if m.group(2) else 0
            elif category in (TypeCategory.STRING, TypeCategory.BINARY):
                max_length = int(m.group(1))
        columns.append(
            ColumnInfo(
                name=name,
                native_type=base,
                category=category,
                # A PK column in a rowid table may hold NULL unless declared NOT NULL, but an
                # INTEGER PRIMARY KEY never does.
                nullable=not notnull and not (pk and (rowid_alias or without_rowid)),
                max_length=max_length,
                precision=precision,
                scale=scale,
                default=default,
                is_identity=bool(pk) and rowid_alias,
                is_primary_key=bool(pk),
                is_computed=hidden in (2, 3),
                ordinal=i + 1,
            )
        )
    fks: dict[int, list[Any]] = {}
    for fid, _seq, ref_table, frm, to in conn.execute(
        'SELECT id, seq, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq',
        (table,),
    ):
        fks.setdefault(fid, []).append((ref_table, frm, to))
    foreign_keys = []
    for fid, parts in sorted(fks.items()):
        ref_table = parts[0][0]
        ref_cols = [p[2] for p in parts]
        if any(c is None for c in ref_cols):  # REFERENCES parent without columns
            ref_cols = pk_of(conn, ref_table)
        foreign_keys.append(
            ForeignKey(
                f"fk_{table}_{fid}",
                tuple(p[1] for p in parts),
                "main",
                ref_table,
                tuple(ref_cols),
            )
        )
    uniques = []
    for name, unique, origin, partial in conn.execute(
        'SELECT name, "unique", origin, partial FROM pragma_index_list(?) ORDER BY name',
        (table,),
    ):
        if not unique or origin == "pk" or partial:
            continue
        cols = [
            r[0]
            for r in conn.execute("SELECT name FROM pragma_index_info(?) ORDER BY seqno", (name,))
        ]
        if None in cols:  # expression index
            continue
        uniques.append(UniqueConstraint(name, tuple(cols)))
    return TableInfo(
        "main",
        table,
        tuple(columns),
        primary_key,
        tuple(foreign_keys),
        tuple(uniques),
        estimate(conn, quote, table),
    )


def pk_of(conn: sqlite3.Connection, table: str) -> list[str]:
    rows = conn.execute("SELECT name, pk FROM pragma_table_info(?)", (table,))
    return [r[0] for r in sorted((r for r in rows if r[1]), key=lambda r: r[1])]
