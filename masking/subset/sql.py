"""The SQL of subsetting that differs between databases, as data: temporary key tables, the
keyed sample hash, and how new keys are added without repeats.

The sample hash is the first 32 bits of MD5 over the key and the primary key values as text,
joined by '|': an integer in [0, 2**32). Integer keys give the same text everywhere, so the
same workflow key samples the same rows on every database."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

HASH_FUNCTION = "mf_subset_hash"
HASH_SPACE = 2**32


def sample_hash(key: str, values: Sequence[Any]) -> int:
    """The hash the databases compute, in Python (SQLite's function, and tests)."""
    text = "|".join([key, *(_text(v) for v in values)])
    return int(hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:8], 16)


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def _sqlite_prepare(conn: Any) -> None:
    if isinstance(conn, sqlite3.Connection):
        conn.create_function(
            HASH_FUNCTION, -1, lambda key, *values: sample_hash(key, values), deterministic=True
        )


@dataclass(frozen=True)
class SubsetSQL:
    create_temp: str  # {name}, {select}
    drop_temp: str  # {name}
    hash_expr: Callable[[str, list[str]], str]  # (hex key literal, quoted columns) -> SQL
    # MySQL cannot name a temporary table twice in one statement: new keys go through a
    # scratch table and INSERT IGNORE; elsewhere an anti-join keeps out what is there.
    insert_ignore: bool = False
    prepare: Callable[[Any], None] | None = None
    temp_prefix: str = ""  # what names a temporary table (T-SQL: '#')
    # The first `n` rows of `select` (no ORDER BY of its own) in `order`.
    first: Callable[[str, str, int], str] = lambda select, order, n: (
        f"{select} ORDER BY {order} LIMIT {n}"
    )
    # Whether (a, b) IN (SELECT a, b ...) is valid; T-SQL has no row values.
    row_values: bool = True


def _pg_hash(key: str, cols: list[str]) -> str:
    text = " || '|' || ".join([f"'{key}'", *(f"{c}::text" for c in cols)])
    return f"('x' || substr(md5({text}), 1, 8))::bit(32)::bigint"


def _mysql_hash(key: str, cols: list[str]) -> str:
    parts = ", '|', ".join([f"'{key}'", *cols])
    return f"CAST(CONV(SUBSTRING(MD5(CONCAT({parts})), 1, 8), 16, 10) AS UNSIGNED)"


def _sqlite_hash(key: str, cols: list[str]) -> str:
    args = ", ".join([f"'{key}'", *cols])
    return f"{HASH_FUNCTION}({args})"


def _tsql_hash(key: str, cols: list[str]) -> str:
    # varchar, not the nvarchar CONCAT gives with a unicode key: MD5 over single-byte text, as
    # the others hash UTF-8 (equal for ASCII keys); the first 4 bytes read as unsigned.
    parts = ", '|', ".join([f"'{key}'", *cols])
    digest = f"HASHBYTES('MD5', CONVERT(varchar(max), CONCAT({parts})))"
    return f"CONVERT(bigint, CONVERT(binary(4), {digest}))"


def _tsql_first(select: str, order: str, n: int) -> str:
    assert select.startswith("SELECT ")
    return f"SELECT TOP ({n}) {select[len('SELECT ') :]} ORDER BY {order}"


DIALECTS: dict[str, SubsetSQL] = {
    "sqlite": SubsetSQL(
        create_temp="CREATE TEMPORARY TABLE {name} AS {select}",
        drop_temp="DROP TABLE IF EXISTS temp.{name}",
        hash_expr=_sqlite_hash,
        prepare=_sqlite_prepare,
    ),
    "postgres": SubsetSQL(
        create_temp="CREATE TEMPORARY TABLE {name} AS {select}",
        drop_temp="DROP TABLE IF EXISTS pg_temp.{name}",
        hash_expr=_pg_hash,
    ),
    "mysql": SubsetSQL(
        create_temp="CREATE TEMPORARY TABLE {name} AS {select}",
        drop_temp="DROP TEMPORARY TABLE IF EXISTS {name}",
        hash_expr=_mysql_hash,
        insert_ignore=True,
    ),
    "tsql": SubsetSQL(
        # SELECT ... INTO keeps an IDENTITY property, which key tables must not have: a UNION
        # drops it ({select} returns no row).
        create_temp="SELECT * INTO {name} FROM ({select} UNION ALL {select}) AS s",
        drop_temp="DROP TABLE IF EXISTS {name}",
        hash_expr=_tsql_hash,
        temp_prefix="#",
        first=_tsql_first,
        row_values=False,
    ),
}
