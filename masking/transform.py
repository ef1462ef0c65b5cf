"""Transform stage: one vectorised masker per masked column per run.

Foreign-key columns share the masker of the key they reference (same technique, params and
secret, checked by preflight), so a value masked in the parent table is masked to the same
output in every child table even when the parent's masker re-drew a colliding value to keep
the key unique."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from masking.extract import ResolvedTable, table_key
from masking.plan import ColumnRule, Plan
from masking.schema import ColumnSpec
from masking.techniques import MaskContext, get_technique, make_masker

Masker = Callable[[pa.Array], pa.Array]


def column_spec(rt: ResolvedTable, rule: ColumnRule) -> ColumnSpec:
    """What the technique must respect: the TARGET column, unique if either side is a key."""
    col = rt.target_column(rule.target_column)
    src = rt.source.column(rule.source_column)
    return ColumnSpec(
        category=col.category,
        max_length=col.max_length,
        precision=col.precision,
        scale=col.scale,
        nullable=col.nullable,
        unique=rt.is_unique_target(rule),
        name=col.name,
        extra={"native_type": col.native_type, "source_category": str(src.category) if src else ""},
    )


def rule_signature(rule: ColumnRule) -> tuple[str, str, bool]:
    return (
        rule.technique,
        json.dumps(dict(rule.params), sort_keys=True, default=str),
        rule.deterministic,
    )


@dataclass
class ColumnMasker:
    table: str
    rule: ColumnRule
    masker: Masker
    identity_hiding: bool
    unique: bool = False  # the masker itself keeps outputs unique across the run
    shared_from: str = ""  # "table.column" whose masker this column reuses

    def __call__(self, values: pa.Array) -> pa.Array:
        out = self.masker(values)
        if isinstance(out, pa.ChunkedArray):
            out = out.combine_chunks()
        return out


def referenced_rule(
    rt: ResolvedTable,
    rule: ColumnRule,
    by_key: dict[tuple[str, str], ResolvedTable],
    default_schema: str,
) -> tuple[ResolvedTable, ColumnRule] | None:
    """The (table, rule) of the key this column references through a single-column target FK,
    when that table is in the plan and maps the referenced column."""
    for fk in rt.target.foreign_keys:
        if fk.columns != (rule.target_column,):
            continue
        parent = by_key.get(table_key(fk.ref_schema, fk.ref_table, default_schema))
        if parent is None:
            continue
        for prule in parent.rules:
            if prule.target_column == fk.ref_columns[0]:
                return parent, prule
    return None


def _root(
    rt: ResolvedTable,
    rule: ColumnRule,
    by_key: dict[tuple[str, str], ResolvedTable],
    default_schema: str,
) -> tuple[ResolvedTable, ColumnRule]:
    """Follow FKs masked the same way up to the key that owns the values (cycle-safe)."""
    seen = {(rt.label, rule.target_column)}
    while True:
        ref = referenced_rule(rt, rule, by_key, default_schema)
        if ref is None or rule_signature(ref[1]) != rule_signature(rule):
            return rt, rule
        if (ref[0].label, ref[1].target_column) in seen:
            return rt, rule
        rt, rule = ref
        seen.add((rt.label, rule.target_column))


def build_maskers(
    plan: Plan, tables: list[ResolvedTable], default_schema: str
) -> dict[tuple[str, str], ColumnMasker]:
    """(table label, target column) -> ColumnMasker, for every masked column of the run.

    A column reached from others through foreign keys masked the same way owns one masker
    (built with its own column spec) that all of them share."""
    by_key = {t.key(default_schema): t for t in tables}
    owners: dict[tuple[str, str], tuple[Masker, bool, bool]] = {}
    out: dict[tuple[str, str], ColumnMasker] = {}
    for rt in tables:
        for rule in rt.rules:
            if not rule.masked:
                continue
            owner_rt, owner_rule = _root(rt, rule, by_key, default_schema)
            key = (owner_rt.label, owner_rule.target_column)
            if key not in owners:
                technique = get_technique(owner_rule.technique)
                ctx = MaskContext(
                    secret=bytes(plan.secret),
                    seed=plan.seed,
                    locale=plan.locale,
                    deterministic=owner_rule.deterministic,
                    column=column_spec(owner_rt, owner_rule),
                    table=owner_rt.label,
                )
                owners[key] = (
                    make_masker(owner_rule.technique, dict(owner_rule.params), ctx),
                    bool(technique.identity_hiding),
                    bool(technique.unique_capable and ctx.column.unique),
                )
            masker, hiding, unique = owners[key]
            shared = "" if key == (rt.label, rule.target_column) else ".".join(key)
            out[(rt.label, rule.target_column)] = ColumnMasker(
                rt.label, rule, masker, hiding, unique=unique and not shared, shared_from=shared
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
        arrays.append(values if cm is None else cm(values))
    return pa.RecordBatch.from_arrays(arrays, names=rt.target_columns)
