"""Database errors described without their text: the rule the database applied, the table and,
when the error names one of the table's own columns, that column.

Database messages quote the rows they refused, each in its own style: PostgreSQL in double
quotes (`invalid input syntax for type integer: "Zebulon"`) and in `Key (c)=(value)` and
`Failing row contains (…)` details, SQL Server in single quotes and `(value)`, MariaDB in single
quotes or backticks, SQLite after a colon. A value can hold any quote, so no scrubber can be
trusted with that text and none of it is kept: the rule comes from the error's code (SQLSTATE,
server error number, SQLite extended code) or else from fixed phrases, and a column is named
only when it is one of the table's columns. The same holds for errors that are not the
driver's (an encoder's ValueError quotes its value too)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from masking.errors import ConnectionFailed, MaskingError, TerminalError, TransientError

# rule -> what happened, in words that fit every dialect
RULES: dict[str, str] = {
    "unique": "a value is already present in a unique key",
    "not_null": "a NULL went into a NOT NULL column",
    "check": "a value broke a CHECK constraint",
    "foreign_key": "a value has no match in the referenced table",
    "type": "a value does not fit the column's type",
    "length": "a value is longer than the column allows",
    "range": "a number is outside the column's range",
    "arithmetic": "an expression failed (division by zero or overflow)",
    "syntax": "the database refused the statement's SQL",
    "not_found": "a table, column or schema does not exist",
    "permission": "the login lacks a permission",
    "lock": "a deadlock or a lock wait ended the statement",
    "timeout": "the statement timed out or was cancelled",
    "connection": "the connection to the database was lost",
    "resources": "the database server is out of resources",
    "unknown": "the database refused the statement",
}
TRANSIENT_RULES = frozenset({"lock", "timeout", "connection", "resources"})

# PostgreSQL SQLSTATEs (also what psycopg, ADBC and Babelfish report).
_PG_STATES = {
    "23505": "unique",
    "23P01": "unique",
    "23502": "not_null",
    "23514": "check",
    "23503": "foreign_key",
    "22001": "length",
    "22003": "range",
    "22012": "arithmetic",
    "42501": "permission",
    "42P01": "not_found",
    "42703": "not_found",
    "3F000": "not_found",
    "42883": "type",
    "42804": "type",
    "40001": "lock",
    "40P01": "lock",
    "55P03": "lock",
    "57014": "timeout",
}
_STATE_CLASSES = {
    "22": "type",
    "23": "check",
    "42": "syntax",
    "08": "connection",
    "53": "resources",
    "57": "connection",
    "HY": "timeout",
}
# ODBC SQLSTATEs SQL Server uses where they are more precise than the class.
_ODBC_STATES = {"22018": "type", "22007": "type", "22008": "type", "42S02": "not_found"}
_ODBC_STATES.update({"42S22": "not_found", "HYT00": "timeout", "HYT01": "timeout"})
# SQL Server native error numbers.
_MSSQL_NUMBERS = {
    2627: "unique",
    2601: "unique",
    1505: "unique",  # a unique index or constraint built over duplicate keys
    515: "not_null",
    547: "check",  # refined below: the same number covers foreign keys
    245: "type",
    8114: "type",
    241: "type",
    242: "type",
    295: "type",
    8152: "length",
    2628: "length",
    220: "range",
    8115: "range",
    8134: "arithmetic",
    229: "permission",
    230: "permission",
    208: "not_found",
    207: "not_found",
    102: "syntax",
    156: "syntax",
    1205: "lock",
    1222: "lock",
}
# MySQL / MariaDB error numbers.
_MYSQL_NUMBERS = {
    1062: "unique",
    1586: "unique",
    1048: "not_null",
    1364: "not_null",
    3819: "check",
    4025: "check",
    1451: "foreign_key",
    1452: "foreign_key",
    1216: "foreign_key",
    1217: "foreign_key",
    1366: "type",
    1292: "type",
    1265: "type",
    1411: "type",
    1406: "length",
    1264: "range",
    1690: "range",
    1365: "arithmetic",
    1142: "permission",
    1143: "permission",
    1044: "permission",
    1146: "not_found",
    1054: "not_found",
    1049: "not_found",
    1064: "syntax",
    1205: "lock",
    1213: "lock",
    3024: "timeout",
    1969: "timeout",
    2002: "connection",
    2003: "connection",
    2006: "connection",
    2013: "connection",
    2055: "connection",
    1040: "resources",
}
# SQLite extended result code names.
_SQLITE_NAMES = {
    "SQLITE_CONSTRAINT_UNIQUE": "unique",
    "SQLITE_CONSTRAINT_PRIMARYKEY": "unique",
    "SQLITE_CONSTRAINT_NOTNULL": "not_null",
    "SQLITE_CONSTRAINT_CHECK": "check",
    "SQLITE_CONSTRAINT_FOREIGNKEY": "foreign_key",
    "SQLITE_CONSTRAINT_DATATYPE": "type",
    "SQLITE_MISMATCH": "type",
    "SQLITE_TOOBIG": "length",
    "SQLITE_BUSY": "lock",
    "SQLITE_LOCKED": "lock",
    "SQLITE_PERM": "permission",
    "SQLITE_AUTH": "permission",
    "SQLITE_READONLY": "permission",
    "SQLITE_INTERRUPT": "timeout",
    "SQLITE_FULL": "resources",
    "SQLITE_NOMEM": "resources",
    "SQLITE_IOERR": "resources",
}
# Last resort, on the lower-cased text (only ever used to choose a rule, never shown).
_PHRASES: tuple[tuple[str, str], ...] = (
    ("unique", r"unique|duplicate"),
    ("not_null", r"not[- ]null|cannot be null|does not allow nulls|value null into column"),
    ("foreign_key", r"foreign key"),
    ("check", r"check constraint|constraint .* failed|violates check"),
    ("length", r"too long|truncat|string or binary data"),
    ("range", r"out of range|overflow"),
    ("arithmetic", r"divi(de|sion) by zero"),
    (
        "type",
        r"invalid input|conversion failed|converting|incorrect \w+ value|datatype mismatch|"
        r"invalid .* value|cannot store|c(an|ould) ?not convert|cannot be cast|invalid literal",
    ),
    ("lock", r"deadlock|database is locked|lock wait|lock timeout|table is locked"),
    ("timeout", r"timeout|timed out|cancel"),
    (
        "connection",
        r"connection (reset|closed|lost|refused|broken)|server closed|lost connection|"
        r"server has gone away|communication link",
    ),
    ("permission", r"permission denied|access denied|not authorized|readonly|read-only"),
    ("not_found", r"does not exist|no such (table|column)|invalid object|unknown column"),
    ("syntax", r"syntax"),
)
# Where messages name a column: `column 'c'`, "column `db`.`t`.`c`", `column t.c`, SQLite's
# `constraint failed: t.c`, PostgreSQL's `Key (a, b)=`. Only names of the table's own columns
# are kept, so whatever these catch, nothing but a known column name leaves.
_COLUMN_SPOTS = (
    re.compile(r"column\s+((?:[`'\"\[]?[^\s,;()]+?[`'\"\]]?\.)*[`'\"\[]?[^\s,;()`'\"\]]+)", re.I),
    re.compile(r"constraint failed:\s*([^\s,]+)", re.I),
    re.compile(r"key \(([^)]*)\)=", re.I),
)
_MSSQL_NUMBER = re.compile(r"\((\d{2,6})\)\s*\(SQL")


def _sqlstate(exc: BaseException) -> str:
    state = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "diag", None), "sqlstate", None)
    if isinstance(state, str) and len(state) == 5:
        return state
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], str) and re.fullmatch(r"[0-9A-Z]{5}", args[0]):
        return args[0]  # pyodbc: (sqlstate, message)
    return ""


def _mysql_number(exc: BaseException) -> int | None:
    if not type(exc).__module__.startswith(("MySQLdb", "_mysql", "pymysql", "mysql")):
        return None
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _text(exc: BaseException) -> str:
    try:
        return str(exc).lower()
    except Exception:  # noqa: BLE001 - a broken __str__ is no reason to fail here
        return ""


def classify(exc: BaseException) -> tuple[str, str]:
    """(rule, code) of an exception; `code` is a SQLSTATE, an error number or a SQLite code
    name (never text from the message), or ""."""
    if isinstance(exc, TimeoutError):
        return "timeout", ""
    if isinstance(exc, ConnectionError):
        return "connection", ""
    number = _mysql_number(exc)
    if number is not None:
        return _MYSQL_NUMBERS.get(number) or _by_phrase(exc), str(number)
    name = getattr(exc, "sqlite_errorname", None)
    if isinstance(name, str) and name.startswith("SQLITE_"):
        for prefix, sqlite_rule in _SQLITE_NAMES.items():
            if name.startswith(prefix):
                return sqlite_rule, name
        return _by_phrase(exc), name
    state = _sqlstate(exc)
    native = _MSSQL_NUMBER.search(_text(exc)) if state else None
    if native:
        rule = _MSSQL_NUMBERS.get(int(native.group(1)))
        if rule == "check" and "foreign key" in _text(exc):
            rule = "foreign_key"
        if rule:
            return rule, f"{state}/{native.group(1)}"
    if state:
        # A precise state decides; SQL Server's catch-all states (42000, 23000, HY000: also what
        # Babelfish sends for PostgreSQL errors) say less than the phrase does.
        rule = _PG_STATES.get(state) or _ODBC_STATES.get(state)
        if rule is None:
            phrase = _by_phrase(exc)
            rule = phrase if phrase != "unknown" else _STATE_CLASSES.get(state[:2], "unknown")
        return rule, state
    if type(exc).__module__.startswith("pyarrow"):
        return "type", ""
    return _by_phrase(exc), ""


def _by_phrase(exc: BaseException) -> str:
    text = _text(exc)
    for rule, pattern in _PHRASES:
        if re.search(pattern, text):
            return rule
    return "unknown"


def column_of(exc: BaseException, columns: Iterable[str]) -> str:
    """The one column of `columns` the error names, or ""."""
    known = {c.lower(): c for c in columns}
    if not known:
        return ""
    named = getattr(getattr(exc, "diag", None), "column_name", None)
    if isinstance(named, str) and named.lower() in known:
        return known[named.lower()]
    try:
        texts = [str(exc)]
        detail = getattr(getattr(exc, "diag", None), "message_detail", None)
        if isinstance(detail, str):
            texts.append(detail)
    except Exception:  # noqa: BLE001
        return ""
    for text in texts:
        for spot in _COLUMN_SPOTS:
            for match in spot.finditer(text):
                for part in match.group(1).split(","):
                    name = part.strip().split(".")[-1].strip("`'\"[] ")
                    if name.lower() in known:
                        return known[name.lower()]
    return ""


class DatabaseRefused(TerminalError):
    """The database refused a statement; the message names rule, table and column only."""

    def __init__(self, message: str, *, rule: str, table: str, column: str, code: str):
        self.rule = rule
        self.table = table
        self.column = column
        self.code = code
        super().__init__(message)


class DatabaseUnavailable(TransientError):
    """A lock, a timeout or a lost connection: a retry may succeed. Same message rules."""

    def __init__(self, message: str, *, rule: str, table: str, column: str, code: str):
        self.rule = rule
        self.table = table
        self.column = column
        self.code = code
        super().__init__(message)


CONNECTION_TEXT = {
    "unreachable": "the server could not be reached",
    "login_failed": "the server refused the login",
    "database_not_found": "the database does not exist or cannot be opened",
    "driver_missing": "the database driver is not installed",
    "tls": "the TLS negotiation with the server failed",
    "permission_denied": "the login lacks a permission, or the file is not allowed",
    "unknown": "the server answered in an unexpected way",
}


def connection_failed(category: str) -> ConnectionFailed:
    """A connection failure in fixed words: nothing the server sent (a banner, a byte of a
    handshake, an error text) is repeated, so a connection test is no way to read servers."""
    if category not in CONNECTION_TEXT:
        category = "unknown"
    return ConnectionFailed(category, CONNECTION_TEXT[category])


def database_error(
    exc: BaseException,
    *,
    table: str,
    stage: str,
    columns: Iterable[str] = (),
    column: str = "",
    row_key: str = "",
) -> MaskingError:
    """The engine error for `exc`, raised while `stage` ran on `table`: rule, table, column
    (`column` when the caller knows it, else one of `columns` the error names) and row ordinal,
    never any text of the exception. Engine errors pass through unchanged."""
    if isinstance(exc, MaskingError) and not isinstance(exc, ConnectionFailed):
        return exc
    where = f"table '{table}'"
    if isinstance(exc, ConnectionFailed):
        text = CONNECTION_TEXT.get(exc.category, CONNECTION_TEXT["unknown"])
        message = f"{where}: {stage} failed: {exc.category}: {text}"
        if exc.category == "unreachable":
            return DatabaseUnavailable(
                message, rule="connection", table=table, column="", code=exc.category
            )
        return DatabaseRefused(message, rule=exc.category, table=table, column="", code="")
    rule, code = classify(exc)
    column = column or column_of(exc, columns)
    if column:
        where += f", column '{column}'"
    if row_key:
        where += f", {row_key}"
    message = f"{where}: {stage} failed: rule '{rule}' ({RULES[rule]})"
    if code:
        message += f" [database code {code}]"
    cls = DatabaseUnavailable if rule in TRANSIENT_RULES else DatabaseRefused
    return cls(message, rule=rule, table=table, column=column, code=code)
