"""A few sample rows masked with a table's rules, for people checking a plan, and the PII
suggestions behind the wizard.

Source values are never shown in full: a column that PII discovery marks as personal data shows
no source value at all (WITHHELD, also as the output of `keep`); any other column shows only
enough of the value to recognise the row (`partial`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa

from masking.detect import Detection, detect_table
from masking.dialects.base import Dialect
from masking.errors import TerminalError
from masking.plan import KEEP, Plan, TablePlan
from masking.schema import ColumnSpec, TableInfo
from masking.techniques import MaskContext, make_masker

PREVIEW_ROWS = 5
SAMPLE_ROWS = 200
WITHHELD = "••• (personal data, withheld)"


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


def sample(source: Dialect, info: TableInfo, columns: list[str], limit: int) -> pa.Table | None:
    for batch in source.read_batches(info, columns, limit):
        return pa.Table.from_batches([batch]).slice(0, limit)
    return None


def _detect(info: TableInfo, table: pa.Table | None, columns: list[str]) -> dict[str, Detection]:
    values = {c: (table.column(c).to_pylist() if table is not None else []) for c in columns}
    wanted = [c for c in info.columns if c.name in set(columns)]
    return detect_table([(c.name, c.native_type, c.category) for c in wanted], values)


def suggest(source: Dialect, info: TableInfo, rows: int = SAMPLE_ROWS) -> dict[str, Detection]:
    """PII discovery on a sample of the table: column -> what was found."""
    columns = [c.name for c in info.columns]
    return _detect(info, sample(source, info, columns, rows), columns)


def preview(plan: Plan, source: Dialect, table: TablePlan, rows: int = PREVIEW_ROWS) -> dict:
    """Mask `rows` sample rows of `table` with its rules and the plan's key and locale.
    Returns {columns, techniques, personal: [column], rows: [[{source, masked, error}]]}."""
    info = source.describe_table(
        table.source_schema or source.capabilities.default_schema, table.source_table
    )
    columns = [r.source_column for r in table.columns]
    data = sample(source, info, columns, rows) if columns else None
    personal = set(_detect(info, data, columns))
    out_rows: list[list[dict]] = [[] for _ in range(data.num_rows if data is not None else 0)]
    for rule in table.columns:
        col = info.column(rule.source_column)
        if col is None:
            raise TerminalError(f"column '{rule.source_column}' not found in '{info.name}'")
        values = data.column(rule.source_column).combine_chunks() if data is not None else None
        values = values if values is not None else pa.array([])
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
            secret=plan.secret,
            locale=plan.locale,
            deterministic=rule.deterministic,
            column=spec,
            table=info.name,
        )
        try:
            masked = make_masker(rule.technique, dict(rule.params), ctx)(values).to_pylist()
            error = ""
        except Exception as exc:  # a bad parameter shows in the preview, not as a failure
            masked, error = [None] * len(values), type(exc).__name__
        hidden = rule.source_column in personal
        for i, (src, dst) in enumerate(zip(values.to_pylist(), masked, strict=True)):
            if dst is None:
                shown = "NULL"
            elif rule.technique == KEEP:  # the output is the source value
                shown = WITHHELD if hidden else partial(dst)
            else:
                shown = str(dst)
            source_shown = "NULL" if src is None else (WITHHELD if hidden else partial(src))
            out_rows[i].append({"source": source_shown, "masked": shown, "error": error})
    return {
        "columns": columns,
        "techniques": [r.technique for r in table.columns],
        "personal": sorted(personal),
        "rows": out_rows,
    }
