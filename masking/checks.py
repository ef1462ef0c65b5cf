"""Preflight: the plan checked against both databases before anything is read or written.

Every table, column, rule, foreign key and row filter of the plan is resolved against the
source's and the target's catalogs, and every problem is reported at once (names of tables,
columns and rules, never a value). It is the one validator of tables, columns and keys: the
app checks a workflow with it when it is saved, when its databases may have drifted, and the
run before it moves a row. `check` also returns the resolved tables the run and the staged
units go on with, and what the app records of the source (its column types).

A table the caller will create when it is missing (`create`) is checked against the source table
it mirrors while it does not exist yet, and as it is once it does."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from masking.dialects.base import Dialect
from masking.errors import MaskingError, ParamError, TerminalError
from masking.extract import ResolvedTable, describe, effective_rules, table_key
from masking.load import count_target_rows
from masking.plan import ColumnRule, Plan
from masking.rowfilter import row_filter_problem
from masking.schema import TableInfo, TypeCategory
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


def _describe_or_none(dialect: Dialect, schema: str, name: str) -> TableInfo | None:
    try:
        return describe(dialect, schema, name)
    except TerminalError:
        return None


def _resolve(
    plan: Plan,
    source: Dialect,
    target: Dialect,
    create: set[tuple[str, str]],
    found: Checked,
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
        # connection failures are not plan problems: they propagate
        src = _describe_or_none(source, tp.source_schema, tp.source_table)
        tgt = _describe_or_none(target, tp.target_schema, tp.target_table)
        if src is not None:
            found.sources[tp.label] = src
        else:
            problems.append(
                Problem(
                    tp.label,
                    "",
                    "source_table",
                    f"source table '{tp.source_table}' not found or not readable",
                )
            )
        if key in create:
            if tgt is not None:
                found.existing.append(tp.label)
            else:
                tgt = src  # a table still to be created mirrors its source
        elif tgt is None:
            problems.append(
                Problem(
                    tp.label,
                    "",
                    "target_table",
                    f"target table '{tp.target_table}' not found or not readable",
                )
            )
        if src is not None and tgt is not None:
            resolved.append(ResolvedTable(tp, src, tgt, effective_rules(tp, src, tgt)))
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
        elif src.max_length and tgt.max_length and src.max_length > tgt.max_length:
            problems.append(
                Problem(
                    label,
                    column,
                    "length",
                    f"target holds {tgt.max_length} characters, the source {src.max_length}",
                )
            )
        return
    if not rule.deterministic and _is_key(rt, rule):
        problems.append(
            Problem(
                label,
                column,
                "deterministic",
                "key and foreign-key columns must be masked deterministically",
            )
        )
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
        problems.extend(
            Problem(label, column, f"params.{name}", reason) for name, reason in exc.errors.items()
        )
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


def _is_key(rt: ResolvedTable, rule: ColumnRule) -> bool:
    """The column identifies rows or points at rows, on either side."""
    return (
        rt.is_unique_target(rule)
        or any(rule.source_column in fk.columns for fk in rt.source.foreign_keys)
        or any(rule.target_column in fk.columns for fk in rt.target.foreign_keys)
    )


def _check_foreign_keys(
    resolved: list[ResolvedTable], source: Dialect, target: Dialect, problems: list[Problem]
) -> None:
    """A FK column and the key it references must be masked identically, or joins break: the
    target's foreign keys, and the source's (the joins the data had, kept in the copy)."""
    found: list[Problem] = []
    for side, dialect in (("target", target), ("source", source)):
        default = dialect.capabilities.default_schema
        by_key = {_side_key(t, side, default): t for t in resolved}
        for rt in resolved:
            if side == "target" and rt.target is rt.source:
                continue  # still to be created: its keys are the source's, checked below
            rules = _rules_by(rt, side)
            for fk in getattr(rt, side).foreign_keys:
                parent = by_key.get(table_key(fk.ref_schema, fk.ref_table, default))
                prules = _rules_by(parent, side) if parent else {}
                for col, ref in zip(fk.columns, fk.ref_columns, strict=True):
                    mine, theirs = rules.get(col), prules.get(ref)
                    if mine is None:
                        continue
                    if parent is None and mine.masked:
                        message = (
                            f"masked, but {fk.ref_table}, which it references, is not in the "
                            "plan: the masked values would point at no row"
                        )
                    elif parent is None or theirs is None:
                        continue
                    elif rule_signature(mine) != rule_signature(theirs):
                        message = (
                            f"masked differently from {parent.label}.{theirs.target_column}, "
                            "which it references; use the same deterministic technique and "
                            "parameters"
                        )
                    elif mine.masked and not mine.deterministic:
                        message = "a key column must be masked deterministically to keep joins"
                    else:
                        continue
                    found.append(Problem(rt.label, mine.target_column, "foreign_key", message))
    problems.extend(dict.fromkeys(found))  # the same key on both sides is reported once


def _side_key(rt: ResolvedTable, side: str, default: str) -> tuple[str, str]:
    info: TableInfo = getattr(rt, side)
    return table_key(info.schema, info.name, default)


def _rules_by(rt: ResolvedTable, side: str) -> dict[str, ColumnRule]:
    return {(r.target_column if side == "target" else r.source_column): r for r in rt.rules}


@dataclass(frozen=True)
class Checked:
    """What `check` found: the problems, and the tables that resolved completely."""

    problems: list[Problem]
    tables: list[ResolvedTable] = field(default_factory=list)
    # labels of the tables asked to be created that exist already (checked as they are)
    existing: list[str] = field(default_factory=list)
    sources: dict[str, TableInfo] = field(default_factory=dict)  # by label, each one found

    def split(self) -> tuple[list[ResolvedTable], list[Problem]]:
        return self.tables, self.problems

    def source_of(self, label: str) -> TableInfo | None:
        """The source table of the plan's table `label` as introspected, when it was found."""
        return self.sources.get(label)


def check(
    plan: Plan,
    source: Dialect,
    target: Dialect,
    *,
    create: Iterable[Sequence[str]] = (),
    data: bool = True,
) -> Checked:
    """Every reason the plan cannot run against the databases as they are now. `create` lists
    the target tables ((schema, table)) the run will create; `data=False` leaves out what
    depends on the rows rather than the structure (a target that must be empty)."""
    tdef = target.capabilities.default_schema
    creating = {table_key(schema, name, tdef) for schema, name in create}
    found = Checked([])
    usable, problems = _analyse(plan, source, target, creating, found, data)
    return replace(found, problems=problems, tables=usable)


def _analyse(
    plan: Plan,
    source: Dialect,
    target: Dialect,
    create: set[tuple[str, str]],
    found: Checked,
    data: bool,
) -> tuple[list[ResolvedTable], list[Problem]]:
    resolved, problems = _resolve(plan, source, target, create, found)
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
    _check_foreign_keys(resolved, source, target, problems)
    closure = closure_for(plan, source, usable)
    if closure is not None:
        problems.extend(Problem(p.table, "", p.rule, p.message) for p in closure.problems)
    if data and plan.target_mode == "fail_if_not_empty":
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
    return check(plan, source, target).problems


__all__ = ["Checked", "Problem", "check", "preflight"]
