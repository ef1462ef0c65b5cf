"""CREATE TABLE generation across dialects.

Types are chosen from the column's category and its length/precision, then rendered through
sqlglot's type builder for the target dialect. Copying a native type verbatim is only safe when
source and target dialects are the same; across dialects sqlglot's raw type transpilation maps
some names to types the target does not have (e.g. `citext`, `jsonb` or `uuid` into MySQL), so
the category decides and sqlglot renders."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlglot import exp

from masking.schema import ColumnInfo, ForeignKey, TableInfo, TypeCategory

SQLGLOT_NAMES = {
    "postgresql": "postgres",
    "sqlserver": "tsql",
    "mysql": "mysql",
    "sqlite": "sqlite",
    "postgres": "postgres",
    "tsql": "tsql",
    "mariadb": "mysql",
}

_INT_RANK = {
    "tinyint": 1,
    "int1": 1,
    "smallint": 2,
    "int2": 2,
    "smallserial": 2,
    "serial2": 2,
    "year": 2,
    "mediumint": 3,
    "int": 4,
    "integer": 4,
    "int4": 4,
    "serial": 4,
    "serial4": 4,
    "bigint": 8,
    "int8": 8,
    "bigserial": 8,
    "serial8": 8,
    "oid": 8,
}
_FLOAT4 = {"real", "float4"}
_FLOAT8 = {"float", "double", "double precision", "float8"}
_FIXED_CHAR = {"char", "character", "nchar", "bpchar"}
_TZ = {"timestamp with time zone", "timestamptz", "datetimeoffset"}
# Index key size limits force bounded strings for key columns.
_KEY_STRING_LENGTH = {"mysql": 255, "tsql": 450}


def _canonical(col: ColumnInfo, target: str, in_key: bool) -> str:
    base = col.native_type.lower().split("(")[0].strip()
    unsigned = base.endswith(" unsigned")
    base = base.removesuffix(" unsigned")
    cat = col.category
    if cat is TypeCategory.STRING:
        # Text types report their storage limit as a length; that is not a declared size.
        n = None if base.endswith("text") else col.max_length
        if n is None and in_key and target in _KEY_STRING_LENGTH:
            n = _KEY_STRING_LENGTH[target]
        limit = {"mysql": 16383, "tsql": 4000, "postgres": 10485760}.get(target)
        if n is not None and n > 0 and (limit is None or n <= limit):
            if target == "tsql":
                return f"NCHAR({n})" if base in _FIXED_CHAR else f"NVARCHAR({n})"
            return f"CHAR({n})" if base in _FIXED_CHAR else f"VARCHAR({n})"
        return {"tsql": "NVARCHAR(MAX)", "mysql": "LONGTEXT"}.get(target, "TEXT")
    if cat is TypeCategory.NUMERIC:
        if base in _INT_RANK:
            if target == "sqlite":
                return "INTEGER"  # the only spelling that makes a rowid alias
            rank = _INT_RANK[base] * (2 if unsigned else 1)
            if rank <= 2:
                return "SMALLINT"
            return "INT" if rank <= 4 else "BIGINT"
        if base in _FLOAT4:
            return "REAL" if target != "mysql" else "FLOAT"
        if base in _FLOAT8:
            return "DOUBLE"
        if base in {"money", "smallmoney"}:
            return "DECIMAL(19, 4)"
        if col.precision:
            return f"DECIMAL({min(col.precision, 38)}, {col.scale or 0})"
        return "NUMERIC" if target in ("postgres", "sqlite") else "DECIMAL(38, 10)"
    if cat is TypeCategory.DATE:
        return "DATE"
    if cat is TypeCategory.DATETIME:
        tz = base in _TZ
        return {
            "postgres": "TIMESTAMPTZ" if tz else "TIMESTAMP",
            "mysql": "DATETIME(6)",
            "tsql": "DATETIMEOFFSET" if tz else "DATETIME2",
            "sqlite": "DATETIME",
        }[target]
    if cat is TypeCategory.TIME:
        return "TIME(6)" if target == "mysql" else "TIME"
    if cat is TypeCategory.BOOLEAN:
        return {"mysql": "TINYINT(1)", "tsql": "BIT"}.get(target, "BOOLEAN")
    if cat is TypeCategory.UUID:
        return {"mysql": "CHAR(36)", "tsql": "UNIQUEIDENTIFIER"}.get(target, "UUID")
    if cat is TypeCategory.BINARY:
        if target == "mysql" and in_key:
            return "VARBINARY(255)"
        return {"postgres": "BYTEA", "mysql": "LONGBLOB", "tsql": "VARBINARY(MAX)"}.get(
            target, "BLOB"
        )
    return {"tsql": "NVARCHAR(MAX)", "mysql": "LONGTEXT"}.get(target, "TEXT")


def _render(canonical: str, target: str) -> str:
    if target == "sqlite":
        # SQLite keeps declared names verbatim; they carry the category back on introspection.
        return canonical
    if canonical in (
        "TINYINT(1)",
        "DATETIME(6)",
        "TIME(6)",
        "NVARCHAR(MAX)",
        "LONGTEXT",
        "LONGBLOB",
        "VARBINARY(MAX)",
        "DATETIMEOFFSET",
        "DATETIME2",
        "UNIQUEIDENTIFIER",
    ):
        return canonical
    return exp.DataType.build(canonical, dialect=target).sql(dialect=target)


def column_type(col: ColumnInfo, source: str | None, target: str, in_key: bool = False) -> str:
    """Same dialect: the native type verbatim. Otherwise (or when the source is unknown) a
    portable type of the same category."""
    src, tgt = SQLGLOT_NAMES.get(source or "", None), SQLGLOT_NAMES[target]
    # Enum/set value lists and fractional-second precision are not in ColumnInfo, so those
    # columns get the portable form even within one dialect.
    portable = col.native_type in ("user-defined", "enum", "set")
    if src == tgt and tgt == "mysql" and col.native_type in ("datetime", "timestamp", "time"):
        return f"{col.native_type}(6)"
    if src == tgt and not portable:
        return native_with_params(col, tgt)
    return _render(_canonical(col, tgt, in_key), tgt)


def native_with_params(col: ColumnInfo, dialect: str = "") -> str:
    t = col.native_type
    if "(" in t or t.endswith("[]"):
        return t
    if dialect == "tsql" and t in ("varchar", "nvarchar", "varbinary") and not col.max_length:
        return f"{t}(max)"  # bare varchar means varchar(1) in T-SQL
    if (
        col.category is TypeCategory.STRING
        and col.max_length
        and t != "citext"
        and not t.endswith("text")
    ):
        return f"{t}({col.max_length})"
    if t in ("numeric", "decimal") and col.precision:
        return f"{t}({col.precision}, {col.scale or 0})"
    if t in ("varbinary", "binary", "bit", "bit varying") and col.max_length:
        return f"{t}({col.max_length})"
    return t


def transpile_type(native_type: str, from_dialect: str, to_dialect: str) -> str:
    """Translate one type name (with parameters) between dialects.

    sqlglot parses and renders the type; when the target has no such type the result falls
    back to a type of the same category."""
    from masking.dialects.typemaps import (
        MYSQL_TYPES,
        POSTGRESQL_TYPES,
        SQLSERVER_TYPES,
        sqlite_category,
    )

    src, tgt = SQLGLOT_NAMES[from_dialect], SQLGLOT_NAMES[to_dialect]
    if src == tgt:
        return native_type
    maps: dict[str, Callable[[str], TypeCategory]] = {
        "postgres": lambda t: POSTGRESQL_TYPES.get(t, TypeCategory.OTHER),
        "mysql": lambda t: MYSQL_TYPES.get(t, TypeCategory.OTHER),
        "tsql": lambda t: SQLSERVER_TYPES.get(t, TypeCategory.OTHER),
        "sqlite": sqlite_category,
    }
    low = native_type.lower().strip()
    base = low.split("(")[0].strip()
    category = maps[src](low if low in ("tinyint(1)", "bit(1)") else base)
    length = precision = scale = None
    if "(" in low and ")" in low:
        args = [a.strip() for a in low[low.index("(") + 1 : low.index(")")].split(",")]
        if args and args[0].isdigit():
            if category is TypeCategory.NUMERIC and base not in _INT_RANK:
                precision = int(args[0])
                scale = int(args[1]) if len(args) > 1 and args[1].isdigit() else 0
            else:
                length = int(args[0])
    col = ColumnInfo(
        name="c",
        native_type=base,
        category=category,
        max_length=length,
        precision=precision,
        scale=scale,
    )
    return _render(_canonical(col, tgt, False), tgt)


def create_table_sql(
    table: TableInfo,
    target_schema: str,
    target_name: str,
    *,
    source_dialect: str | None,
    target_dialect: str,
    qualified: Callable[[str, str], str],
    quote: Callable[[str], str],
    identity_clause: Callable[[ColumnInfo], str],
    foreign_keys: Sequence[ForeignKey] = (),
) -> str:
    key_columns = set(table.primary_key)
    for u in table.unique_constraints:
        key_columns.update(u.columns)
    lines = []
    for col in sorted(table.columns, key=lambda c: c.ordinal):
        typ = column_type(col, source_dialect, target_dialect, col.name in key_columns)
        parts = [quote(col.name), typ]
        if col.is_identity:
            clause = identity_clause(col)
            if clause:
                parts.append(clause)
        if not col.nullable and not col.is_computed:
            parts.append("NOT NULL")
        lines.append(" ".join(parts))
    if table.primary_key:
        cols = ", ".join(quote(c) for c in table.primary_key)
        lines.append(f"PRIMARY KEY ({cols})")
    for u in table.unique_constraints:
        if tuple(u.columns) == tuple(table.primary_key):
            continue
        cols = ", ".join(quote(c) for c in u.columns)
        lines.append(f"UNIQUE ({cols})")
    for fk in foreign_keys:
        cols = ", ".join(quote(c) for c in fk.columns)
        refs = ", ".join(quote(c) for c in fk.ref_columns)
        # SQLite names the parent without its schema: it must be in the child's database.
        parent = (
            quote(fk.ref_table)
            if target_dialect == "sqlite"
            else qualified(fk.ref_schema, fk.ref_table)
        )
        lines.append(f"FOREIGN KEY ({cols}) REFERENCES {parent} ({refs})")
    body = ",\n  ".join(lines)
    return f"CREATE TABLE {qualified(target_schema, target_name)} (\n  {body}\n)"
