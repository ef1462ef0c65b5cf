"""Everything a workflow is checked against before it is saved — against fresh introspection of
source and target — so that a mapping that cannot succeed is refused with the full list."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps.connections.models import Connection
from apps.connections.services import connection_open
from apps.workflows.models import TargetMode, Workflow, WorkflowStatus
from masking import (
    LOCALES,
    ColumnSpec,
    ParamError,
    RowFilterError,
    TableInfo,
    TerminalError,
    fits_column,
    get_technique,
    validate_params,
    validate_row_filter,
)

KEEP = "keep"


@dataclass
class Issues:
    items: list[dict] = field(default_factory=list)

    def add(self, field_: str, issue: str) -> None:
        self.items.append({"field": field_, "issue": issue})

    def __bool__(self) -> bool:
        return bool(self.items)


class WorkflowInvalid(Exception):
    def __init__(self, issues: list[dict]):
        self.issues = issues
        super().__init__("; ".join(f"{i['field']}: {i['issue']}" for i in issues))


@dataclass
class CleanWorkflow:
    name: str
    description: str
    status: str
    target_mode: str
    locale: str
    source: Connection
    target: Connection
    mappings: list[dict]


def _spec(col, *, unique: bool) -> ColumnSpec:
    return ColumnSpec(
        category=col.category,
        max_length=col.max_length,
        precision=col.precision,
        scale=col.scale,
        nullable=col.nullable,
        unique=unique,
        name=col.name,
    )


class Introspector:
    """Caches describe_table per connection for one validation pass."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.dialect = connection_open(conn)
        self._tables: dict[tuple[str, str], TableInfo | None] = {}

    def table(self, schema: str, name: str) -> TableInfo | None:
        key = (schema, name)
        if key not in self._tables:
            try:
                self._tables[key] = self.dialect.describe_table(schema, name)
            except TerminalError:
                self._tables[key] = None
        return self._tables[key]

    def close(self) -> None:
        self.dialect.close()


def _str(data: dict, key: str, default: str = "") -> str:
    value = data.get(key, default)
    return value.strip() if isinstance(value, str) else default if value is None else str(value)


def workflow_clean(data: dict[str, Any], *, instance: Workflow | None = None) -> CleanWorkflow:
    issues = Issues()
    name = _str(data, "name")
    if not name:
        issues.add("name", "This field is required.")
    elif len(name) > 100:
        issues.add("name", "Ensure this field has no more than 100 characters.")
    elif (
        Workflow.objects.filter(name__iexact=name)
        .exclude(pk=getattr(instance, "pk", None))
        .exists()
    ):
        issues.add("name", "A workflow with this name already exists.")
    description = _str(data, "description")
    if len(description) > 2000:
        issues.add("description", "Ensure this field has no more than 2000 characters.")
    status = _str(data, "status", WorkflowStatus.ACTIVE) or WorkflowStatus.ACTIVE
    if status not in WorkflowStatus.values:
        issues.add("status", "Choose active or inactive.")
    target_mode = _str(data, "target_mode", TargetMode.TRUNCATE) or TargetMode.TRUNCATE
    if target_mode not in TargetMode.values:
        issues.add("target_mode", f"Choose one of: {', '.join(TargetMode.values)}.")
    locale = _str(data, "locale", "en_US") or "en_US"
    if locale not in LOCALES:
        issues.add("locale", f"Choose one of: {', '.join(LOCALES)}.")

    conns = {}
    for key in ("source_connection_id", "target_connection_id"):
        raw = data.get(key)
        try:
            pk = int(raw)
            if isinstance(raw, bool):
                raise ValueError
        except (TypeError, ValueError):
            issues.add(key, "Give the id of an existing connection.")
            continue
        conn = Connection.objects.filter(pk=pk).first()
        if conn is None:
            issues.add(key, f"Connection with ID {pk} does not exist")
        else:
            conns[key] = conn
    source, target = conns.get("source_connection_id"), conns.get("target_connection_id")
    if source and target and (source.pk == target.pk or source.identity() == target.identity()):
        issues.add("target_connection_id", "Source and target must be different databases.")
        target = None

    mappings = data.get("mappings")
    if not isinstance(mappings, list) or not mappings:
        issues.add("mappings", "Map at least one table.")
        mappings = []
    cleaned_mappings: list[dict] = []
    if source and target and mappings:
        src, tgt = Introspector(source), Introspector(target)
        try:
            cleaned_mappings = _clean_mappings(mappings, src, tgt, issues)
        finally:
            src.close()
            tgt.close()
    if issues:
        raise WorkflowInvalid(issues.items)
    return CleanWorkflow(
        name, description, status, target_mode, locale, source, target, cleaned_mappings
    )


def _clean_mappings(
    mappings: list, src: Introspector, tgt: Introspector, issues: Issues
) -> list[dict]:
    out = []
    seen_targets: set[tuple[str, str]] = set()
    src_default = src.dialect.capabilities.default_schema
    tgt_default = tgt.dialect.capabilities.default_schema
    for i, m in enumerate(mappings):
        where = f"mappings[{i}]"
        if not isinstance(m, dict):
            issues.add(where, "Each mapping must be an object.")
            continue
        s_schema = _str(m, "source_schema") or src_default
        s_table = _str(m, "source_table")
        t_schema = _str(m, "target_schema") or tgt_default
        t_table = _str(m, "target_table") or s_table
        create = bool(m.get("create_target", False))
        copy_unmapped = bool(m.get("copy_unmapped", True))
        row_filter = _str(m, "row_filter")
        if not s_table:
            issues.add(f"{where}.source_table", "This field is required.")
            continue
        source_info = src.table(s_schema, s_table)
        if source_info is None:
            issues.add(
                f"{where}.source_table", f"Table {s_schema}.{s_table} does not exist in the source."
            )
            continue
        if (t_schema, t_table) in seen_targets:
            issues.add(
                f"{where}.target_table", f"{t_schema}.{t_table} is the target of another mapping."
            )
        seen_targets.add((t_schema, t_table))
        target_info = tgt.table(t_schema, t_table)
        if create and target_info is not None:
            issues.add(
                f"{where}.target_table",
                f"{t_schema}.{t_table} already exists in the target; map onto it instead of "
                "creating it.",
            )
            continue
        if not create and target_info is None:
            issues.add(
                f"{where}.target_table",
                f"{t_schema}.{t_table} does not exist in the target; choose 'create target table' "
                "or an existing table.",
            )
            continue
        effective_target = target_info or source_info  # a created table mirrors the source
        if row_filter:
            try:
                row_filter = validate_row_filter(
                    row_filter,
                    dialect=src.dialect.capabilities.sqlglot_dialect,
                    columns={c.name for c in source_info.columns},
                )
            except RowFilterError as exc:
                issues.add(f"{where}.row_filter", str(exc))
        cms = m.get("column_mappings")
        if not isinstance(cms, list):
            issues.add(f"{where}.column_mappings", "Must be a list.")
            continue
        cleaned_cms = _clean_columns(cms, source_info, effective_target, where, issues)
        _check_unmapped(cleaned_cms, source_info, effective_target, copy_unmapped, where, issues)
        out.append(
            {
                "source_schema": s_schema,
                "source_table": s_table,
                "target_schema": t_schema,
                "target_table": t_table,
                "create_target": create,
                "copy_unmapped": copy_unmapped,
                "row_filter": row_filter,
                "column_mappings": cleaned_cms,
                "_source_info": source_info,
            }
        )
    _check_foreign_keys(out, issues)
    for m in out:
        m.pop("_source_info", None)
    return out


def _clean_columns(
    cms: list, source: TableInfo, target: TableInfo, where: str, issues: Issues
) -> list[dict]:
    cleaned = []
    seen_targets: set[str] = set()
    for j, cm in enumerate(cms):
        at = f"{where}.column_mappings[{j}]"
        if not isinstance(cm, dict):
            issues.add(at, "Each column mapping must be an object.")
            continue
        s_col = _str(cm, "source_column")
        technique = _str(cm, "technique") or KEEP
        t_col = _str(cm, "target_column") or s_col
        params = cm.get("params") or {}
        deterministic = cm.get("deterministic", True)
        src_col = source.column(s_col)
        if src_col is None:
            issues.add(
                f"{at}.source_column",
                f"Column '{s_col}' does not exist in {source.schema}.{source.name}.",
            )
            continue
        tgt_col = target.column(t_col)
        if tgt_col is None:
            issues.add(
                f"{at}.target_column", f"Column '{t_col}' does not exist in the target table."
            )
            continue
        if t_col in seen_targets:
            issues.add(f"{at}.target_column", f"Column '{t_col}' is mapped twice.")
        seen_targets.add(t_col)
        if tgt_col.is_computed:
            issues.add(
                f"{at}.target_column",
                f"Column '{t_col}' is computed in the target and cannot be written.",
            )
        try:
            tech = get_technique(technique)
        except TerminalError:
            issues.add(f"{at}.technique", f"Unknown masking technique '{technique}'.")
            continue
        if src_col.category not in tech.categories:
            issues.add(
                f"{at}.technique",
                f"Technique '{technique}' does not accept {src_col.category.value} columns "
                f"('{s_col}' is {src_col.native_type}).",
            )
            continue
        if not isinstance(params, dict):
            issues.add(f"{at}.params", "Must be an object.")
            continue
        try:
            params = validate_params(technique, params)
        except ParamError as exc:
            for k, v in exc.errors.items():
                issues.add(f"{at}.params.{k}", v)
            continue
        if not isinstance(deterministic, bool):
            issues.add(f"{at}.deterministic", "Must be true or false.")
            continue
        is_key = source.is_unique(s_col) or target.is_unique(t_col)
        in_fk = any(s_col in fk.columns for fk in source.foreign_keys)
        if (is_key or in_fk) and technique != KEEP and not deterministic:
            issues.add(
                f"{at}.deterministic",
                "Key and foreign-key columns must be masked deterministically.",
            )
        if technique != KEEP:
            spec = _spec(tgt_col, unique=is_key)
            for reason in fits_column(technique, params, spec):
                issues.add(f"{at}.technique", f"'{t_col}': {reason}")
        elif src_col.category != tgt_col.category:
            issues.add(
                f"{at}.target_column",
                f"'{t_col}' is {tgt_col.category.value} but the source is "
                f"{src_col.category.value}.",
            )
        elif src_col.max_length and tgt_col.max_length and src_col.max_length > tgt_col.max_length:
            issues.add(
                f"{at}.target_column",
                f"'{t_col}' holds {tgt_col.max_length} characters but the source holds "
                f"{src_col.max_length}.",
            )
        cleaned.append(
            {
                "source_column": s_col,
                "technique": technique,
                "target_column": t_col,
                "data_type": src_col.native_type,
                "params": params,
                "deterministic": deterministic,
            }
        )
    return cleaned


def _check_unmapped(
    cms: list[dict],
    source: TableInfo,
    target: TableInfo,
    copy_unmapped: bool,
    where: str,
    issues: Issues,
) -> None:
    mapped = {cm["target_column"] for cm in cms}
    source_names = {c.name for c in source.columns}
    for col in target.columns:
        if col.name in mapped or col.is_computed:
            continue
        filled = copy_unmapped and col.name in source_names
        if not filled and not col.nullable and col.default is None and not col.is_identity:
            issues.add(
                f"{where}.column_mappings",
                f"Target column '{col.name}' is NOT NULL and would receive no value; map it or "
                "copy unmapped columns.",
            )


def _check_foreign_keys(mappings: list[dict], issues: Issues) -> None:
    """A masked FK column must be masked exactly like the key it references, or joins break."""
    by_table = {(m["source_schema"], m["source_table"]): m for m in mappings}
    for i, m in enumerate(mappings):
        info: TableInfo = m["_source_info"]
        rules = {cm["source_column"]: cm for cm in m["column_mappings"]}
        for fk in info.foreign_keys:
            parent = by_table.get((fk.ref_schema or m["source_schema"], fk.ref_table))
            parent_rules = (
                {cm["source_column"]: cm for cm in parent["column_mappings"]} if parent else {}
            )
            for col, ref_col in zip(fk.columns, fk.ref_columns, strict=True):
                child_rule = rules.get(col)
                parent_rule = parent_rules.get(ref_col)
                child_masked = child_rule and child_rule["technique"] != KEEP
                parent_masked = parent_rule and parent_rule["technique"] != KEEP
                if not child_masked and not parent_masked:
                    continue
                same = (
                    child_rule
                    and parent_rule
                    and child_rule["technique"] == parent_rule["technique"]
                    and child_rule["params"] == parent_rule["params"]
                    and child_rule["deterministic"]
                    and parent_rule["deterministic"]
                )
                if not same and (parent is not None or child_masked):
                    issues.add(
                        f"mappings[{i}].column_mappings",
                        f"'{col}' references {fk.ref_table}.{ref_col}: both must use the same "
                        "deterministic technique and parameters.",
                    )
