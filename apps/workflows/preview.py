"""Sampling, PII suggestions and the live preview. Source values are only ever shown partially
masked (never in full), beside their masked output."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa

from apps.connections.models import Connection
from apps.connections.services import connection_params
from masking.detect import detect_table
from masking.schema import ColumnSpec, TableInfo
from masking.techniques import MaskContext, make_masker

PREVIEW_ROWS = 5
SAMPLE_ROWS = 200


def partial(value: Any) -> str:
    """Enough to recognise a row, not enough to learn the value: j•••@e•••.com, 4•••1,
    19••-••-••."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "•"
    if isinstance(value, (dt.date, dt.datetime)):
        return f"{value.year // 100}••-••-••"
    text = str(value)
    if isinstance(value, (int, float, Decimal)):
        return text[0] + "•" * min(max(1, len(text) - 1), 12) if len(text) > 1 else "•"
    if "@" in text:
        local, _, domain = text.partition("@")
        head, _, tld = domain.rpartition(".")
        return f"{local[:1]}•••@{head[:1]}•••.{tld}" if head else f"{local[:1]}•••@•••"
    if len(text) <= 2:
        return "•" * len(text)
    if len(text) <= 5:
        return text[0] + "•" * (len(text) - 1)
    return text[0] + "•" * min(len(text) - 2, 12) + text[-1]


def sample_rows(
    conn: Connection, info: TableInfo, columns: list[str], limit: int
) -> pa.Table | None:
    from masking.dialects import get_dialect

    with get_dialect(connection_params(conn)) as dialect:
        for batch in dialect.read_batches(info, columns, limit):
            return pa.Table.from_batches([batch]).slice(0, limit)
    return None


def suggest(conn: Connection, info: TableInfo) -> dict[str, dict]:
    """PII discovery on a sample: column -> {entity, confidence, sensitivity, technique, params}."""
    cols = [c.name for c in info.columns]
    sample = sample_rows(conn, info, cols, SAMPLE_ROWS)
    samples = {c: (sample.column(c).to_pylist() if sample is not None else []) for c in cols}
    found = detect_table([(c.name, c.native_type, c.category) for c in info.columns], samples)
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
    rows: int = PREVIEW_ROWS,
) -> dict:
    """Mask a few sample rows with the given rules. Returns {columns, rows: [[{source,
    masked}]]}."""
    columns = [r["source_column"] for r in rules]
    sample = sample_rows(conn, info, columns, rows) if columns else None
    out_rows: list[list[dict]] = [[] for _ in range(sample.num_rows if sample is not None else 0)]
    for rule in rules:
        col = info.column(rule["source_column"])
        values = (
            sample.column(rule["source_column"]).combine_chunks()
            if sample is not None
            else pa.array([])
        )
        technique = rule.get("technique") or "keep"
        spec = ColumnSpec(
            category=col.category,
            max_length=col.max_length,
            precision=col.precision,
            scale=col.scale,
            nullable=col.nullable,
            unique=False,
            name=col.name,
        )
        ctx = MaskContext(
            secret=secret,
            locale=locale,
            deterministic=bool(rule.get("deterministic", True)),
            column=spec,
            table=info.name,
        )
        try:
            masked = make_masker(technique, rule.get("params") or {}, ctx)(values).to_pylist()
            error = ""
        except (
            Exception
        ) as exc:  # a bad parameter shows in the preview instead of breaking the page
            masked, error = [None] * len(values), type(exc).__name__
        for i, (src, dst) in enumerate(zip(values.to_pylist(), masked, strict=True)):
            shown = partial(dst) if technique == "keep" else ("" if dst is None else str(dst))
            out_rows[i].append(
                {"source": partial(src), "masked": "NULL" if dst is None else shown, "error": error}
            )
    return {
        "columns": columns,
        "techniques": [r.get("technique") or "keep" for r in rules],
        "rows": out_rows,
    }
