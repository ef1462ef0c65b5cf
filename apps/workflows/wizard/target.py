"""The wizard's last step: the target (existing tables or tables the first run creates, the
target mode, the leak policy), then the save, where the same validation as the API runs and
lists every problem."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from apps.connections.models import Connection
from apps.connections.services import connection_open
from apps.workflows import services, shapes
from apps.workflows.forms import TargetModeForm
from apps.workflows.introspect import Introspector
from apps.workflows.validation import WorkflowInvalid
from apps.workflows.wizard.state import (
    load_state,
    save_state,
    state_connection,
    state_key,
    step_context,
    step_url,
    workflow_for_edit,
)
from masking import (
    ColumnRule,
    ColumnSpec,
    ConnectionFailed,
    MaskingError,
    TableInfo,
    consistency_groups,
    created_foreign_keys,
)


def _build_input(state: dict) -> dict:
    mappings = []
    for t in state["tables"]:
        key = f"{t['schema']}.{t['table']}"
        target = state.get("targets", {}).get(key, {})
        rules = state.get("rules", {}).get(key, {})
        mappings.append(
            {
                "source_schema": t["schema"],
                "source_table": t["table"],
                "target_schema": target.get("schema", ""),
                "target_table": target.get("table") or t["table"],
                "create_target": bool(target.get("create", False)),
                "row_filter": target.get("row_filter", ""),
                "copy_unmapped": bool(target.get("copy_unmapped", False)),
                "column_mappings": _column_mappings(t, rules),
            }
        )
    return {
        **state["basics"],
        "target_mode": state.get("target_mode", "truncate"),
        "leak_max_share": state.get("leak_max_share", 0.0),
        "leak_action": state.get("leak_action", "fail"),
        "max_source_readers": state.get("max_source_readers"),
        "status": state.get("status", "active"),
        "subset": state.get("subset"),
        "mappings": mappings,
    }


def _column_mappings(t: dict, rules: dict) -> list[dict]:
    return [
        {
            "source_column": c,
            "technique": rules.get(c, {}).get("technique", "keep"),
            "target_column": c,
            "params": rules.get(c, {}).get("params", {}),
            "deterministic": rules.get(c, {}).get("deterministic", True),
        }
        for c in t["columns"]
    ]


MODE_DEFAULTS = (
    ("target_mode", "truncate"),
    ("leak_max_share", 0.0),
    ("leak_action", "fail"),
    ("max_source_readers", None),
)


@login_required
@require_http_methods(["GET", "POST"])
def step_target(request, pk: int | None = None, step: int = 4):
    workflow = workflow_for_edit(request, pk)
    state = load_state(request, pk)
    if not state.get("tables"):
        return redirect(step_url(pk, 2) if "basics" in state else reverse("workflows:create"))
    source, target = state_connection(state, "source"), state_connection(state, "target")
    issues: list[dict] = []
    mode_form = TargetModeForm(
        request.POST or None,
        initial={
            "target_mode": state.get("target_mode", "truncate"),
            "leak_max_share": state.get("leak_max_share", 0.0),
            "leak_action": state.get("leak_action", "fail"),
            "max_source_readers": state.get("max_source_readers"),
        },
    )
    if request.method == "POST":
        for t in state["tables"]:
            key = f"{t['schema']}.{t['table']}"
            state.setdefault("targets", {})[key] = {
                "create": request.POST.get(f"create:{key}") == "create",
                "schema": request.POST.get(f"schema:{key}", "").strip(),
                "table": request.POST.get(f"table:{key}", "").strip() or t["table"],
                "row_filter": request.POST.get(f"filter:{key}", "").strip(),
                "copy_unmapped": request.POST.get(f"copy:{key}") == "on",
            }
        if mode_form.is_valid():
            for field, default in MODE_DEFAULTS:
                value = mode_form.cleaned_data.get(field)
                state[field] = default if value in (None, "") else value
        save_state(request, pk, state)
        if request.POST.get("action") == "save":
            try:
                if workflow:
                    saved = services.workflow_update(
                        workflow=workflow,
                        data=_build_input(state),
                        by=request.user,
                        request=request,
                    )
                    messages.success(request, f"Workflow '{saved.name}' updated.")
                else:
                    saved = services.workflow_create(
                        data=_build_input(state), by=request.user, request=request
                    )
                    messages.success(request, f"Workflow '{saved.name}' created.")
            except WorkflowInvalid as exc:
                issues = exc.issues
            else:
                request.session.pop(state_key(pk), None)
                return redirect("workflows:detail", saved.pk)
    rows, existing, problems = _rows(state, source, target)
    issues = issues or problems
    return render(
        request,
        "workflows/wizard_target.html",
        step_context(
            request,
            pk,
            4,
            rows=rows,
            mode_form=mode_form,
            issues=issues,
            basics=state["basics"],
            source=source,
            target=target,
            existing=existing,
            joinable=_joinable(rows),
        ),
        status=400 if issues else 200,
    )


def _joinable(rows: list[dict]) -> list[str]:
    """Columns masked alike across the workflow: they keep joining, in the form that fits the
    shortest of them (what the run's consistency groups will be)."""
    columns = []
    for row in rows:
        for name in row["t"]["columns"]:
            rule = row["rules"].get(name, {})
            col = row["info"].column(name) if row["info"] else None
            if col is None or rule.get("technique", "keep") == "keep":
                continue
            spec = ColumnSpec(col.category, max_length=col.max_length, name=name)
            params = rule.get("params") or {}
            cr = ColumnRule(name, name, rule["technique"], params, rule.get("deterministic", True))
            columns.append((f"{row['schema']}.{row['name']}", cr, spec))
    return [g.describe() for g in consistency_groups(columns) if len(g.members) > 1]


def _rows(
    state: dict, source: Connection, target: Connection
) -> tuple[list[dict], dict[str, set[str]], list[dict]]:
    """One row per table: where it lands, its DDL when the first run creates it, and what the
    engine's check says the save would refuse, all on one connection to each database."""
    try:
        with connection_open(source) as src, connection_open(target) as tgt:
            return _rows_on(state, src, tgt)
    except MaskingError as exc:  # never a value: the category or the kind of error only
        why = exc.category if isinstance(exc, ConnectionFailed) else type(exc).__name__
        reason = f"The databases could not be reached to check the tables ({why})."
        return [], {}, [{"field": "connections", "issue": reason}]


def _rows_on(state: dict, src, tgt):  # type: ignore[no-untyped-def]
    default_schema = tgt.capabilities.default_schema
    try:
        existing = {s: {t.name for t in tgt.list_tables(s)} for s in tgt.list_schemas()}
    except MaskingError:  # a login that may not list everything still gets its tables checked
        existing = {}
    rows = []
    sources, targets = Introspector(None, dialect=src), Introspector(None, dialect=tgt)
    for t in state["tables"]:
        key = f"{t['schema']}.{t['table']}"
        chosen = state.get("targets", {}).get(key) or {}
        schema = chosen.get("schema") or (
            t["schema"] if t["schema"] in existing else default_schema
        )
        name = chosen.get("table") or t["table"]
        exists = name in existing.get(schema, set())
        create = chosen.get("create", not exists)
        info = sources.table(t["schema"], t["table"])
        target_info = targets.table(schema, name) if exists and not create else None
        rows.append(
            {
                "key": key,
                "t": t,
                "schema": schema,
                "name": name,
                "exists": exists,
                "create": create,
                "ddl": "",
                "source_info": info,
                "row_filter": chosen.get("row_filter", ""),
                "copy_unmapped": chosen.get("copy_unmapped", False),
                "mismatches": [],
                "rules": state.get("rules", {}).get(key, {}),
                "info": target_info or info,  # the columns the masked values land in
            }
        )
    # A created table's foreign keys to the workflow's other tables, where they land.
    lands = [(r["t"]["schema"], r["t"]["table"], r["schema"], r["name"]) for r in rows]
    for r in rows:
        info = r.pop("source_info")
        if r["create"] and info:
            keys = created_foreign_keys(info, lands, src.capabilities.default_schema)
            r["ddl"] = _ddl(tgt, src, info, r["schema"], r["name"], keys)
    mappings = [
        {
            "source_schema": r["t"]["schema"],
            "source_table": r["t"]["table"],
            "target_schema": r["schema"],
            "target_table": r["name"],
            "create_target": r["create"],
            "row_filter": r["row_filter"],
            "copy_unmapped": r["copy_unmapped"],
            "column_mappings": _column_mappings(r["t"], r["rules"]),
        }
        for r in rows
    ]
    issues = shapes.Issues()
    shapes.check_mappings(mappings, src, tgt, issues, target_mode=state.get("target_mode"))
    for item in issues.items:  # what the save would refuse, shown beside its table
        index = shapes.mapping_index(item["field"])
        if index is not None:
            rows[index]["mismatches"].append(item["issue"])
    return rows, existing, []


def _ddl(tgt, src, info: TableInfo, schema: str, name: str, keys) -> str:  # type: ignore[no-untyped-def]
    try:
        return tgt.create_table_sql(info, schema, name, source_dialect=src.name, foreign_keys=keys)
    except Exception as exc:
        return f"-- could not generate DDL ({type(exc).__name__})"
