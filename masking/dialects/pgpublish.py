"""PostgreSQL publish of a staged run: foreign keys among the published tables are dropped in
the publish transaction and added back after the inserts, so the server checks each one with a
single join instead of a trigger call per row. The transaction holds the tables locked from the
start, so nobody sees them without their keys; a rollback restores every constraint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from masking.errors import TerminalError
from masking.schema import TableInfo

_FOREIGN_KEYS = """
SELECT con.conname, pg_catalog.pg_get_constraintdef(con.oid)
FROM pg_catalog.pg_constraint con
WHERE con.conrelid = %s AND con.contype = 'f' ORDER BY con.conname
"""
_OWNS = (
    "SELECT pg_catalog.pg_has_role(c.relowner, 'USAGE') FROM pg_catalog.pg_class c WHERE c.oid = %s"
)


def defer_foreign_keys(dialect: Any, tables: Sequence[TableInfo]) -> list[tuple[str, str]]:
    """Drop the foreign keys of `tables` (those the login owns); returns (name, statement
    adding it back). Only inside a transaction."""
    if not dialect._in_tx:
        return []
    out = []
    for table in tables:
        oid = dialect._oid(table)
        if not dialect._rows(_OWNS, (oid,))[0][0]:
            continue
        target = dialect.qualified(table.schema, table.name)
        for name, definition in dialect._rows(_FOREIGN_KEYS, (oid,)):
            dialect.execute(f"ALTER TABLE {target} DROP CONSTRAINT {dialect.quote(name)}")
            out.append(
                (name, f"ALTER TABLE {target} ADD CONSTRAINT {dialect.quote(name)} {definition}")
            )
    return out


def restore_foreign_keys(dialect: Any, deferred: Sequence[tuple[str, str]]) -> None:
    import psycopg

    for name, statement in deferred:
        try:
            dialect.execute(statement)
        except psycopg.errors.ForeignKeyViolation as exc:
            raise TerminalError(
                f"foreign key '{name}' cannot be restored: a published row references no row"
            ) from exc
