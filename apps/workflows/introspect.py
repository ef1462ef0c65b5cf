"""Introspection for the wizard's pages: one open connection, each table described once."""

from __future__ import annotations

from apps.connections.models import Connection
from apps.connections.services import Database, connection_open
from masking import TableInfo, TerminalError


class Introspector:
    """Caches describe_table per connection for one request."""

    def __init__(self, conn: Connection | None, *, dialect: Database | None = None):
        """On a new connection to `conn`, or on `dialect`, a connection already open."""
        self.conn = conn
        self.dialect = dialect if dialect is not None else connection_open(conn)
        self._tables: dict[tuple[str, str], TableInfo | None] = {}

    def table(self, schema: str, name: str) -> TableInfo | None:
        key = (schema, name)
        if key not in self._tables:
            try:
                self._tables[key] = self.dialect.describe_table(schema, name)
            except TerminalError:
                self._tables[key] = None
        return self._tables[key]

    def close(self) -> None:
        self.dialect.close()
