"""Database dialects: one small interface, four implementations.

Drivers are imported when a connection opens, so a missing driver for one database never
breaks the others (it shows up as the `driver_missing` test category)."""

from __future__ import annotations

from masking.dialects.base import Capabilities, ConnectionParams, Dialect, TestResult
from masking.dialects.ddl import transpile_type
from masking.dialects.mysql import MySQLDialect
from masking.dialects.odbc import register_bundled_driver
from masking.dialects.postgresql import PostgreSQLDialect
from masking.dialects.sqlite import SQLiteDialect
from masking.dialects.sqlserver import SQLServerDialect
from masking.errors import TerminalError

DIALECTS: dict[str, type[Dialect]] = {
    "sqlserver": SQLServerDialect,
    "postgresql": PostgreSQLDialect,
    "mysql": MySQLDialect,
    "sqlite": SQLiteDialect,
}


def get_dialect(params: ConnectionParams) -> Dialect:
    try:
        cls = DIALECTS[params.dialect]
    except KeyError:
        raise TerminalError(f"unknown dialect '{params.dialect}'") from None
    return cls(params)


__all__ = [
    "DIALECTS",
    "Capabilities",
    "ConnectionParams",
    "Dialect",
    "TestResult",
    "get_dialect",
    "register_bundled_driver",
    "transpile_type",
]
