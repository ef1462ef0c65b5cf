"""Redaction for everything that reaches a log: personal data and secrets never leave in clear."""

from __future__ import annotations

import logging
import re
import traceback

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # key=value / key: value secrets (password=..., token: ..., api_key=..., PWD=...;)
    (
        re.compile(
            r"(?i)\b(pass(?:word|wd)?|pwd|pw|secret|token|api[_-]?key|access[_-]?key|"
            r"authorization|bearer|private[_-]?key|encryption[_-]?keys?)\b(\s*[=:]\s*|\s+)"
            r"(\"[^\"]*\"|'[^']*'|\{[^}]*\}|[^\s,;&]+)"
        ),
        r"\1\2[REDACTED]",
    ),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[JWT]"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[EMAIL]"),
    (re.compile(r"\b(?:\d[ -]?){13,19}\b"), "[CARD]"),
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), "[SSN]"),
    (re.compile(r"\b\d{3}[ -]\d{3}[ -]\d{3}\b"), "[SIN]"),
    (
        re.compile(r"(?<![\w.])(?:\+?\d{1,3}[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}(?![\w])"),
        "[PHONE]",
    ),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), "[IP]"),
    # IPv6: the full eight-group form, or a compressed form with "::" (not clock times).
    (re.compile(r"\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b"), "[IP]"),
    (
        re.compile(
            r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){1,6}:(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4})*)?(?![\w:])"
        ),
        "[IP]",
    ),
    (re.compile(r"(?<![\w:])::(?:[0-9a-fA-F]{1,4}:){0,6}[0-9a-fA-F]{1,4}(?![\w:])"), "[IP]"),
]


def redact_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then redacts the whole line (message, arguments and traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


class RedactingFilter(logging.Filter):
    """Redacts the message in place so handlers with other formatters stay safe too."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        return True


# Exceptions whose text can quote row values: database drivers (every quoting style), Django's
# wrappers of them, and the Arrow/Polars conversions. Their messages never reach a log; their
# class and the traceback still do.
_WITHHELD_MODULES = (
    "psycopg",
    "MySQLdb",
    "_mysql",
    "sqlite3",
    "_sqlite3",
    "pyodbc",
    "mssql_python",
    "adbc_driver",
    "pyarrow",
    "polars",
    "django.db",
)
WITHHELD = "(message withheld: database errors can quote row values)"


def withheld(exc_type: type) -> bool:
    return (getattr(exc_type, "__module__", "") or "").startswith(_WITHHELD_MODULES)


def format_exception_safely(exc_info) -> str:
    """A traceback in which every exception of a driver has lost its message."""
    top = traceback.TracebackException(*exc_info)
    pending, seen = [top], set()
    while pending:
        te = pending.pop()
        if id(te) in seen:
            continue
        seen.add(id(te))
        if te.exc_type is not None and withheld(te.exc_type):
            te._str = WITHHELD  # what format_exception_only prints after the class name
        pending.extend(
            t for t in (te.__cause__, te.__context__, *(getattr(te, "exceptions", None) or ())) if t
        )
    return redact_text("".join(top.format()).rstrip("\n"))


def _safe_args(args):
    if not isinstance(args, tuple):
        return args
    return tuple(
        f"{type(a).__name__} {WITHHELD}"
        if isinstance(a, BaseException) and withheld(type(a))
        else a
        for a in args
    )


_installed = False


def install_redacting_record_factory() -> None:
    """Redact every log record as it is created, so no handler (ours, a library's, a test's)
    ever sees personal data or secrets: message, arguments and traceback text alike."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.args = _safe_args(record.args)
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg, record.args = redact_text(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = format_exception_safely(record.exc_info)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
