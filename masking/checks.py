"""Preflight: the plan checked against both databases before anything is read or written.

Every table, column, rule, foreign key and row filter of the plan is resolved against the
source's and the target's catalogs, and every problem is reported at once (names of tables,
columns and rules, never a value). `_analyse` also returns the resolved tables the run and the
staged units go on with."""

from __future__ import annotations

from dataclasses import dataclass

from masking.dialects.base import Dialect
from masking.errors import MaskingError, ParamError, TerminalError
from masking.extract import ResolvedTable, describe, effective_rules, table_key
from masking.load import count_target_rows
from masking.plan import Plan
from masking.rowfilter import row_filter_problem
from masking.schema import TypeCategory
from masking.subset.engine import closure_for
from masking.techniques import fits_column, get_technique, validate_params
from masking.techniques.registry import get_impl
from masking.transform import column_spec, rule_signature

# Categories a pass-through copy may cross without changing meaning.
_COMPATIBLE = {
    frozenset({TypeCategory.DATE, TypeCategory.DATETIME}),
    frozenset({TypeCategory.UUID, TypeCategory.STRING}),
}


@dataclass(frozen=True)
class Problem:
    table: str
    column: str
    rule: str
    message: str  # names structure and rules only, never data

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        return f"{where} [{self.rule}]: {self.message}"


def _resolve(
    plan: Plan, source: Dialect, target: Dialect
) -> tuple[list[ResolvedTable], list[Problem]]:
    problems: list[Problem] = []
    resolved: list[ResolvedTable] = []
    seen: set[tuple[str, str]] = set()
    tdef = target.capabilities.default_schema
    for tp in plan.tables:
        key = table_key(tp.target_schema, tp.target_table, tdef)
        if key in seen:
            problems.append(
                Problem(
                    tp.label, "", "duplicate_table", "the target table appears twice in the plan"
                )
            )
            continue
        seen.add(key)
        infos = []
        for side, dialect, schema, name in (
            ("source", source, tp.source_schema, tp.source_table),
            ("target", target, tp.target_schema, tp.target_table),
        ):
            try:
                infos.append(describe(dialect, schema, name))
            except TerminalError:  # connection failures are not plan problems: they propagate
                problems.append(
                    Problem(
                        tp.label,
                        "",
                        f"{side}_table",
                        f"{side} table '{name}' not found or not readable",
                    )
                )
        if len(infos) == 2:
            resolved.append(
                ResolvedTable(tp, infos[0], infos[1], effective_rules(tp, infos[0], infos[1]))
            )
    return resolved, problems


def _check_columns(rt: ResolvedTable, problems: list[Problem]) -> bool:
    ok = True
    targets: set[str] = set()
    label = rt.label
    for rule in rt.rules:
        src, tgt = rt.source.column(rule.source_column), rt.target.column(rule.target_column)
        if src is None:
            problems.append(
                Problem(
                    label,
                    rule.source_column,
                    "source_column",
                    "column not found in the source table",
                )
            )
        if tgt is None:
            problems.append(
                Problem(
                    label,
                    rule.target_column,
                    "target_column",
                    "column not found in the target table",
                )
            )
        elif tgt.is_computed:
            problems.append(
                Problem(
                    label, rule.target_column, "target_column", "computed column cannot be written"
                )
            )
        if rule.target_column in targets:
            problems.append(
                Problem(label, rule.target_column, "duplicate_column", "target column mapped twice")
            )
        targets.add(rule.target_column)
        ok = ok and src is not None and tgt is not None
    if not rt.rules:
        problems.append(Problem(label, "", "no_columns", "no column is mapped"))
    for col in rt.target.columns:
        if (
            col.name not in targets
            and not col.nullable
            and col.default is None
            and not col.is_identity
            and not col.is_computed
        ):
            problems.append(
                Problem(
                    label,
                    col.name,
                    "not_null",
                    "NOT NULL target column without a source or default",
                )
            )
    return ok


def _check_rule(rt: ResolvedTable, rule_idx: int, problems: list[Problem]) -> None:
    rule = rt.rules[rule_idx]
    label, column = rt.label, rule.target_column
    src, tgt = rt.source.column(rule.source_column), rt.target_column(rule.target_column)
    assert src is not None
    if not rule.masked:
        cats = frozenset({src.category, tgt.category})
        if len(cats) > 1 and TypeCategory.OTHER not in cats and cats not in _COMPATIBLE:
            problems.append(
                Problem(
                    label, column, "category", f"source is {src.category}, target is {tgt.category}"
                )
            )
        return
    try:
        technique = get_technique(rule.technique)
    except MaskingError:
        problems.append(
            Problem(label, column, "technique", f"unknown technique '{rule.technique}'")
        )
        return
    if src.category not in technique.categories:
        problems.append(
            Problem(
                label,
                column,
                "category",
                f"technique '{rule.technique}' does not accept {src.category} columns",
            )
        )
    try:
        validate_params(rule.technique, dict(rule.params))
    except ParamError as exc:
        problems.append(Problem(label, column, "params", str(exc)))
        return
    for reason in fits_column(rule.technique, dict(rule.params), column_spec(rt, rule)):
        problems.append(Problem(label, column, "fits_column", reason))
    entity = dict(rule.params).get("entity_column")
    if entity and get_impl(rule.technique).entity_label is None:
        problems.append(
            Problem(label, column, "params", f"technique '{rule.technique}' takes no entity column")
        )
    elif entity and rt.source.column(entity) is None:
        problems.append(
            Problem(
                label,
                column,
                "entity_column",
                f"entity column '{entity}' is not a column of the source table",
            )
        )


def _check_foreign_keys(
    resolved: list[ResolvedTable], default_schema: str, problems: list[Problem]
) -> None:
    """A FK column and the key it references must be masked identically, or joins break."""
    by_key = {t.key(default_schema): t for t in resolved}
    for rt in resolved:
        rules = {r.target_column: r for r in rt.rules}
        for fk in rt.target.foreign_keys:
            parent = by_key.get(table_key(fk.ref_schema, fk.ref_table, default_schema))
            if parent is None:
                continue
            prules = {r.target_column: r for r in parent.rules}
            for col, ref in zip(fk.columns, fk.ref_columns, strict=True):
                mine, theirs = rules.get(col), prules.get(ref)
                if mine is None or theirs is None:
                    continue
                if rule_signature(mine) != rule_signature(theirs):
                    problems.append(
                        Problem(
                            rt.label,
                            col,
                            "foreign_key",
                            f"masked differently from {parent.label}.{ref}, which it references",
                        )
                    )
                elif mine.masked and not mine.deterministic:
                    problems.append(
                        Problem(
                            rt.label,
                            col,
                            "foreign_key",
                            "a key column must be masked deterministically to keep joins",
                        )
                    )


def _analyse(
    plan: Plan, source: Dialect, target: Dialect
) -> tuple[list[ResolvedTable], list[Problem]]:
    resolved, problems = _resolve(plan, source, target)
    usable = []
    for rt in resolved:
        complete = _check_columns(rt, problems)
        if rt.plan.row_filter:  # checked again: a plan saved under older, looser rules
            reason = row_filter_problem(rt.plan.row_filter, source, rt.source)
            if reason:
                problems.append(Problem(rt.label, "", "row_filter", reason))
        for i, rule in enumerate(rt.rules):
            if rt.source.column(rule.source_column) and rt.target.column(rule.target_column):
                _check_rule(rt, i, problems)
        if complete:
            usable.append(rt)
    _check_foreign_keys(resolved, target.capabilities.default_schema, problems)
    closure = closure_for(plan, source, usable)
    if closure is not None:
        problems.extend(Problem(p.table, "", p.rule, p.message) for p in closure.problems)
    if plan.target_mode == "fail_if_not_empty":
        for rt in usable:
            if count_target_rows(target, rt.label, rt.target) > 0:
                problems.append(
                    Problem(
                        rt.label,
                        "",
                        "target_not_empty",
                        "target table has rows and the mode is fail_if_not_empty",
                    )
                )
    return usable, problems


def preflight(plan: Plan, source: Dialect, target: Dialect) -> list[Problem]:
    """Every reason the plan cannot run against the databases as they are now (empty = go)."""
    return _analyse(plan, source, target)[1]


# --- run --------------------------------------------------------------------------------------


__all__ = ["Problem", "preflight"]
