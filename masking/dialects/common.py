"""Helpers shared by every dialect: error scrubbing and classification, the connection test,
keyset SQL, and which columns can be written. Arrow conversion is in arrowconv."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from masking.dberrors import connection_failed
from masking.errors import ConnectionFailed, TerminalError
from masking.schema import ColumnInfo, TableInfo

# --- messages ------------------------------------------------------------------------------

# (category, pattern) in priority order: the first match wins.
_RULES: tuple[tuple[str, str], ...] = (
    (
        "driver_missing",
        r"can't open lib|data source name not found|no module named|"
        r"\bim002\b|\bim003\b|file not found",
    ),
    ("tls", r"\bssl\b|\btls\b|certificate|encryption not supported|handshake"),
    (
        "database_not_found",
        r"database .* does not exist|unknown database|cannot open database|"
        r"unable to open database|no such file|database not found|\b1049\b|\b4060\b",
    ),
    (
        "permission_denied",
        r"permission denied|access denied for user .* to database|"
        r"not authorized|\b1044\b|\b229\b|readonly|read-only",
    ),
    (
        "login_failed",
        r"password authentication failed|authentication failed|access denied|"
        r"login failed|no pg_hba\.conf entry|\b1045\b|\b18456\b|role .* does not exist|"
        r"password",
    ),
    (
        "unreachable",
        r"could not translate host|name or service not known|unknown .*host|"
        r"getaddrinfo|nodename|connection refused|timed out|timeout|can't connect|"
        r"could not connect|no route to host|network is unreachable|tcp provider|"
        r"server is not found|connection to server|\b200[2356]\b|\b08001\b|hyt00",
    ),
)


def classify(message: str) -> str:
    low = message.lower()
    for category, pattern in _RULES:
        if re.search(pattern, low):
            return category
    return "unknown"


def timed_test(
    connect: Callable[[], Any],
    probe: Callable[[Any], str],
    secrets: Sequence[str],
    classifier: Callable[[BaseException, str], str] | None = None,
) -> tuple[bool, str, str, str, int]:
    """Run connect+probe; return (ok, category, message, server_version, elapsed_ms)."""
    start = time.monotonic()
    try:
        conn = connect()
        version = probe(conn)
        return True, "ok", "connection succeeded", version, int((time.monotonic() - start) * 1000)
    except BaseException as exc:  # noqa: BLE001 - test() must never raise
        if isinstance(exc, KeyboardInterrupt):
            raise
        elapsed = int((time.monotonic() - start) * 1000)
        if isinstance(exc, ConnectionFailed):
            category = exc.category
        elif isinstance(exc, (socket.timeout, TimeoutError)):
            category = "unreachable"
        elif isinstance(exc, ImportError):
            category = "driver_missing"
        else:
            raw = f"{type(exc).__name__}: {exc}"
            category = classifier(exc, raw) if classifier else classify(raw)
        # Fixed words per category: what the server sent never reaches the message.
        return (
            False,
            category,
            f"connection failed: {connection_failed(category).message}",
            "",
            elapsed,
        )


# --- keyset pagination ------------------------------------------------------------------------


def keyset_predicate(quoted_keys: Sequence[str], placeholder: str, tuples: bool) -> str:
    """`(a, b) > (?, ?)` or the equivalent expanded OR-form for engines without row values.

    The OR-form binds the last-seen values once per reference, in order: for keys a, b it is
    `a > ? OR (a = ? AND b > ?)` and needs the parameters from `keyset_params`."""
    if tuples or len(quoted_keys) == 1:
        if len(quoted_keys) == 1:
            return f"{quoted_keys[0]} > {placeholder}"
        cols = ", ".join(quoted_keys)
        marks = ", ".join(placeholder for _ in quoted_keys)
        return f"({cols}) > ({marks})"
    terms = []
    for i, key in enumerate(quoted_keys):
        eqs = [f"{k} = {placeholder}" for k in quoted_keys[:i]]
        terms.append("(" + " AND ".join([*eqs, f"{key} > {placeholder}"]) + ")")
    return "(" + " OR ".join(terms) + ")"


def keyset_params(last: Sequence[Any], tuples: bool) -> list[Any]:
    if tuples or len(last) == 1:
        return list(last)
    params: list[Any] = []
    for i in range(len(last)):
        params.extend(last[: i + 1])
    return params


def select_list(table: TableInfo, columns: Sequence[str]) -> tuple[list[ColumnInfo], list[str]]:
    """Requested columns plus any missing primary-key columns (needed to page)."""
    wanted: list[ColumnInfo] = []
    for name in columns:
        col = table.column(name)
        if col is None:
            raise TerminalError(f"column '{name}' not found in table '{table.schema}.{table.name}'")
        wanted.append(col)
    extra = [k for k in table.primary_key if k not in columns]
    return wanted, extra


def insertable(table: TableInfo, columns: Sequence[str]) -> list[str]:
    """Columns that can be written: computed/rowversion columns never are."""
    out = []
    for name in columns:
        col = table.column(name)
        if col is None:
            raise TerminalError(f"column '{name}' not found in table '{table.schema}.{table.name}'")
        if not col.is_computed:
            out.append(name)
    return out


def not_found(schema: str, table: str) -> TerminalError:
    return TerminalError(f"table '{schema}.{table}' not found")


def orphans_sql(
    quote: Callable[[str], str],
    child: str,
    parent: str,
    columns: Sequence[str],
    ref_columns: Sequence[str],
) -> str:
    """SQL counting the rows of `child` (qualified) whose `columns` are all set and match no
    row of `parent` on `ref_columns`: a foreign key's orphans, in SQL every dialect reads."""
    set_ = " AND ".join(f"c.{quote(c)} IS NOT NULL" for c in columns)
    join = " AND ".join(
        f"p.{quote(r)} = c.{quote(c)}" for c, r in zip(columns, ref_columns, strict=True)
    )
    return (
        f"SELECT COUNT(*) FROM {child} c WHERE {set_} AND NOT EXISTS "
        f"(SELECT 1 FROM {parent} p WHERE {join})"
    )
