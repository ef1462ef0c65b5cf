"""The preview and PII suggestions of the workflow pages, through the engine's front door
(masking.preview, masking.suggest): source values are never shown in full, and not at all for
columns PII discovery marks as personal data."""

from __future__ import annotations

import masking
from apps.connections.models import Connection
from apps.connections.services import connection_open
from masking import ColumnRule, Plan, TableInfo, TablePlan


def suggest(conn: Connection, info: TableInfo) -> dict[str, dict]:
    """PII discovery on a sample: column -> {entity, confidence, sensitivity, technique, params}."""
    with connection_open(conn) as source:
        found = masking.suggest(source, info)
    return {
        name: {
            "entity": d.entity,
            "confidence": round(d.confidence, 2),
            "sensitivity": d.sensitivity,
            "technique": d.technique,
            "params": d.params,
        }
        for name, d in found.items()
    }


def preview(
    *,
    conn: Connection,
    info: TableInfo,
    rules: list[dict],
    secret: bytes,
    locale: str = "en_US",
) -> dict:
    """A few sample rows of `info` masked with the mapping's `rules` (stored form)."""
    table = TablePlan(
        info.schema,
        info.name,
        info.schema,
        info.name,
        tuple(
            ColumnRule(
                r["source_column"],
                r["source_column"],
                r.get("technique") or "keep",
                r.get("params") or {},
                bool(r.get("deterministic", True)),
            )
            for r in rules
        ),
    )
    plan = Plan(tables=(table,), secret=secret, locale=locale)
    with connection_open(conn) as source:
        return masking.preview(plan, source, table)
