"""The shape of a submitted workflow: required fields, types and defaults, read into the engine's
plan types; and the engine's problems placed on the fields they are about."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from apps.connections.models import Connection
from masking import (
    Checked,
    ColumnRule,
    Plan,
    Problem,
    TableInfo,
    TablePlan,
    check,
    validate_params,
    validate_row_filter,
)

CONNECTION_KEYS = ("source_connection_id", "target_connection_id")
KEEP = "keep"
TARGET_MODES = ("truncate", "append", "fail_if_not_empty")

# problem rule -> the field of a column mapping it is about
_COLUMN_FIELDS = {
    "source_column": "source_column",
    "target_column": "target_column",
    "duplicate_column": "target_column",
    "length": "target_column",
    "technique": "technique",
    "fits_column": "technique",
    "params": "params",
    "entity_column": "params.entity_column",
    "deterministic": "deterministic",
}
# problem rule -> the field of a table mapping it is about
_TABLE_FIELDS = {
    "source_table": "source_table",
    "target_table": "target_table",
    "duplicate_table": "target_table",
    "row_filter": "row_filter",
}


@dataclass
class Issues:
    items: list[dict] = field(default_factory=list)

    def add(self, field_: str, issue: str) -> None:
        self.items.append({"field": field_, "issue": issue})

    def __bool__(self) -> bool:
        return bool(self.items)


def text(data: dict, key: str, default: str = "") -> str:
    value = data.get(key, default)
    return value.strip() if isinstance(value, str) else default if value is None else str(value)


def connection(data: dict, key: str, issues: Issues) -> Connection | None:
    raw = data.get(key)
    if isinstance(raw, bool) or not str(raw or "").strip().lstrip("-").isdigit():
        issues.add(key, "Give the id of an existing connection.")
        return None
    conn = Connection.objects.filter(pk=int(raw)).first()
    if conn is None:
        issues.add(key, f"Connection with ID {int(raw)} does not exist")
    return conn


@dataclass
class FormTable:
    """One table mapping as submitted: its plan, and where each rule came from."""

    index: int
    table: TablePlan
    create: bool
    positions: list[int]  # rule i of the plan is column_mappings[positions[i]]

    def where(self, rule: int | None = None) -> str:
        at = f"mappings[{self.index}]"
        return at if rule is None else f"{at}.column_mappings[{self.positions[rule]}]"

    def stored(self, source: TableInfo | None, src: Any) -> dict:
        """The mapping as a workflow keeps it: normalised parameters and filter, source types."""
        tp, cols = self.table, []
        for rule in tp.columns:
            col = source.column(rule.source_column) if source else None
            params = validate_params(rule.technique, dict(rule.params))
            cols.append(
                {**rule.to_dict(), "params": params, "data_type": col.native_type if col else ""}
            )
        row_filter = tp.row_filter or ""
        if row_filter and source is not None:
            names = {c.name for c in source.columns}
            dialect = src.capabilities.sqlglot_dialect
            row_filter = validate_row_filter(row_filter, dialect=dialect, columns=names)
        return {
            **{k: v for k, v in tp.to_dict().items() if k != "columns"},
            "row_filter": row_filter,
            "create_target": self.create,
            "column_mappings": cols,
        }


def mappings(raw: list, src: Any, tgt: Any, issues: Issues) -> list[FormTable]:
    out = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            issues.add(f"mappings[{i}]", "Each mapping must be an object.")
            continue
        s_table = text(m, "source_table")
        if not s_table:
            issues.add(f"mappings[{i}].source_table", "This field is required.")
            continue
        cms = m.get("column_mappings")
        if not isinstance(cms, list):
            issues.add(f"mappings[{i}].column_mappings", "Must be a list.")
            continue
        rules, positions = _rules(cms, f"mappings[{i}]", issues)
        table = TablePlan(
            source_schema=text(m, "source_schema") or src.capabilities.default_schema,
            source_table=s_table,
            target_schema=text(m, "target_schema") or tgt.capabilities.default_schema,
            target_table=text(m, "target_table") or s_table,
            columns=tuple(rules),
            row_filter=text(m, "row_filter") or None,
            copy_unmapped=bool(m.get("copy_unmapped", True)),
        )
        out.append(FormTable(i, table, bool(m.get("create_target", False)), positions))
    return out


def _rules(cms: list, where: str, issues: Issues) -> tuple[list[ColumnRule], list[int]]:
    rules, positions = [], []
    for j, cm in enumerate(cms):
        at = f"{where}.column_mappings[{j}]"
        if not isinstance(cm, dict):
            issues.add(at, "Each column mapping must be an object.")
            continue
        s_col, params = text(cm, "source_column"), cm.get("params") or {}
        deterministic = cm.get("deterministic", True)
        if not s_col:
            issues.add(f"{at}.source_column", "This field is required.")
        elif not isinstance(params, dict):
            issues.add(f"{at}.params", "Must be an object.")
        elif not isinstance(deterministic, bool):
            issues.add(f"{at}.deterministic", "Must be true or false.")
        else:
            technique = text(cm, "technique") or KEEP
            rules.append(
                ColumnRule(
                    s_col, text(cm, "target_column") or s_col, technique, params, deterministic
                )
            )
            positions.append(j)
    return rules, positions


def check_mappings(
    raw: list,
    src: Any,
    tgt: Any,
    issues: Issues,
    *,
    target_mode: str | None = None,
    locale: str = "en_US",
) -> tuple[list[FormTable], Checked]:
    """Read the mappings and check them with the engine; every problem lands in `issues`."""
    form = mappings(raw, src, tgt, issues)
    tables = tuple(f.table for f in form)
    mode = target_mode if target_mode in TARGET_MODES else "truncate"
    plan = Plan(tables=tables, secret=b"", locale=locale, target_mode=mode)
    create = [(f.table.target_schema, f.table.target_table) for f in form if f.create]
    checked = check(plan, src, tgt, create=create, data=False)
    for problem in checked.problems:
        issues.add(*problem_field(problem, form))
    for label in checked.existing:
        issue = "already exists in the target; map onto it instead"
        issues.add(*table_field(form, label, "target_table", issue))
    return form, checked


def mapping_index(field_: str) -> int | None:
    """The table mapping a field is about (`mappings[2].…` → 2)."""
    found = re.match(r"mappings\[(\d+)\]", field_)
    return int(found.group(1)) if found else None


def _table(form: list[FormTable], label: str, last: bool) -> FormTable | None:
    found = [f for f in form if f.table.label == label]
    return (found[-1] if last else found[0]) if found else None


def table_field(form: list[FormTable], label: str, name: str, issue: str) -> tuple[str, str]:
    table = _table(form, label, last=False)
    return (f"{table.where()}.{name}" if table else "mappings", issue)


def problem_field(problem: Problem, form: list[FormTable]) -> tuple[str, str]:
    """The field a problem of `masking.check` is about, and what to tell the user there."""
    issue = f"'{problem.column}': {problem.message}" if problem.column else problem.message
    table = _table(form, problem.table, last=problem.rule == "duplicate_table")
    if table is None:
        return ("mappings", f"{problem.table}: {issue}")
    if problem.rule in _TABLE_FIELDS:
        return (f"{table.where()}.{_TABLE_FIELDS[problem.rule]}", issue)
    side = "source_column" if problem.rule == "source_column" else "target_column"
    found = [i for i, r in enumerate(table.table.columns) if getattr(r, side) == problem.column]
    if not found:
        return (f"{table.where()}.column_mappings", issue)
    if problem.rule.startswith("params."):
        rule_field: str | None = problem.rule
    elif problem.rule == "category":
        masked = table.table.columns[found[0]].masked
        rule_field = "technique" if masked else "target_column"
    else:
        rule_field = _COLUMN_FIELDS.get(problem.rule)
    if rule_field is None:
        return (f"{table.where()}.column_mappings", issue)
    index = found[-1] if problem.rule == "duplicate_column" else found[0]
    return (f"{table.where(index)}.{rule_field}", issue)
