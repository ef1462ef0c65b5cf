"""Transform stage: one vectorised masker per masked column per run.

Each masker is built with its consistency group's spec (``consistency.py``): every column
masked with the same technique and parameters masks a value the same way, so foreign keys,
denormalised copies and joins on masked columns hold without the columns sharing any state,
in this run, in later runs and in other workers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from masking import offsets
from masking.consistency import column_spec, groups, member_spec, rule_signature
from masking.extract import ResolvedTable
from masking.plan import ColumnRule, Plan
from masking.techniques import MaskContext, get_technique, make_masker
from masking.techniques.text import replace_row_names

# Techniques that write a person's name: free text drops the row's source names (see below).
NAME_TECHNIQUES = frozenset({"first_name", "last_name", "full_name"})

__all__ = ["ColumnMasker", "build_maskers", "column_spec", "mask_batch", "rule_signature"]

Masker = Callable[..., pa.Array]


@dataclass
class ColumnMasker:
    table: str
    rule: ColumnRule
    masker: Masker
    identity_hiding: bool
    entity_column: str | None = None  # source column whose value keys this one (date shifts)

    def __call__(self, values: pa.Array, entity: pa.Array | None = None) -> pa.Array:
        out = self.masker(values) if entity is None else self.masker(values, entity)
        if isinstance(out, pa.ChunkedArray):
            out = out.combine_chunks()
        return out


def build_maskers(
    plan: Plan, tables: list[ResolvedTable], default_schema: str = ""
) -> dict[tuple[str, str], ColumnMasker]:
    """(table label, target column) -> ColumnMasker, for every masked column of the run."""
    spec_of = {}
    for group in groups(tables):
        for member in group.members:
            spec_of[(member.table, member.column)] = group
    out: dict[tuple[str, str], ColumnMasker] = {}
    for rt in tables:
        for rule in rt.rules:
            if not rule.masked:
                continue
            group = spec_of[(rt.label, rule.target_column)]
            ctx = MaskContext(
                secret=bytes(plan.secret),
                seed=plan.seed,
                locale=plan.locale,
                deterministic=rule.deterministic,
                column=member_spec(group, column_spec(rt, rule)),
                table=rt.label,
            )
            technique = get_technique(rule.technique)
            out[(rt.label, rule.target_column)] = ColumnMasker(
                rt.label,
                rule,
                make_masker(rule.technique, dict(rule.params), ctx),
                bool(technique.identity_hiding),
                entity_column=dict(rule.params).get("entity_column") or None,
            )
    return out


def mask_batch(
    rt: ResolvedTable, batch: pa.RecordBatch, maskers: dict[tuple[str, str], ColumnMasker]
) -> pa.RecordBatch:
    """The batch as the target receives it: target column names, masked where a rule says."""
    arrays: list[pa.Array] = []
    for rule in rt.rules:
        values = batch.column(rule.source_column)
        cm = maskers.get((rt.label, rule.target_column))
        if cm is None:
            arrays.append(values)
            continue
        entity = batch.column(cm.entity_column) if cm.entity_column else None
        arrays.append(cm(values, entity))
    _redact_row_names(rt, batch, arrays, maskers)
    out = pa.RecordBatch.from_arrays(arrays, names=rt.target_columns)
    return offsets.with_companions(out, batch, {r.source_column: r.target_column for r in rt.rules})


def _redact_row_names(
    rt: ResolvedTable,
    batch: pa.RecordBatch,
    arrays: list[pa.Array],
    maskers: dict[tuple[str, str], ColumnMasker],
) -> None:
    """Free-text columns lose the row's own names where the row's name columns are masked."""
    names = [
        (batch.column(r.source_column), arrays[i])
        for i, r in enumerate(rt.rules)
        if r.masked and r.technique in NAME_TECHNIQUES
    ]
    if not names:
        return
    for i, rule in enumerate(rt.rules):
        cm = maskers.get((rt.label, rule.target_column))
        if cm is not None and rule.technique == "free_text_redact":
            mode = dict(rule.params).get("mode") or "fake"
            arrays[i] = replace_row_names(arrays[i], names, mode, column_spec(rt, rule).max_length)
