"""Browsing a connection's schemas, tables and columns (cached briefly; refreshable)."""

from __future__ import annotations

from dataclasses import asdict

from django.core.cache import cache

from apps.audit.services import audit_record
from apps.connections.clean import clean_identifier
from apps.connections.models import Connection
from apps.connections.schemacache import _cache_key
from apps.connections.services import connection_open
from masking import TableInfo

SCHEMA_CACHE_SECONDS = 120


def _introspect(conn: Connection, what: str, *args: str, refresh: bool = False):
    key = _cache_key(conn, what, *args)
    if not refresh:
        hit = cache.get(key)
        if hit is not None:
            return hit
    with connection_open(conn, web=True) as dialect:
        value = getattr(dialect, what)(*args)
    cache.set(key, value, SCHEMA_CACHE_SECONDS)
    return value


def connection_schemas(*, conn: Connection, refresh: bool = False) -> list[str]:
    return _introspect(conn, "list_schemas", refresh=refresh)


def connection_tables(*, conn: Connection, schema: str, refresh: bool = False):
    clean_identifier(schema, "schema")
    return _introspect(conn, "list_tables", schema, refresh=refresh)


def connection_table(
    *, conn: Connection, schema: str, table: str, refresh: bool = False
) -> TableInfo:
    clean_identifier(schema, "schema")
    clean_identifier(table, "table")
    return _introspect(conn, "describe_table", schema, table, refresh=refresh)


def table_as_dict(info: TableInfo) -> dict:
    data = asdict(info)
    for col in data["columns"]:
        col["category"] = str(col["category"])
    return data


def connection_audit_browse(
    *, conn: Connection, request, what: str, schema: str = "", table: str = ""
) -> None:
    audit_record(
        action="schema.browse",
        request=request,
        resource_type="connection",
        resource_id=conn.pk,
        details={"what": what, "schema": schema, "table": table},
    )
