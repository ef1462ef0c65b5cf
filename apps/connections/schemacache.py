"""Introspection answers are cached briefly per connection; saving a connection invalidates them."""

from __future__ import annotations

import hashlib

from django.core.cache import cache

from apps.connections.models import Connection


def _cache_key(conn: Connection, *parts: str) -> str:

    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]
    return f"schema:{conn.pk}:{cache.get(f'schema-gen:{conn.pk}', 0)}:{digest}"


def _invalidate_schema_cache(conn: Connection) -> None:
    try:
        cache.incr(f"schema-gen:{conn.pk}")
    except ValueError:
        cache.set(f"schema-gen:{conn.pk}", 1, None)
