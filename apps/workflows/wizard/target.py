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
from apps.workflows import services
from apps.workflows.forms import TargetModeForm
from apps.workflows.validation import Introspector, WorkflowInvalid
from apps.workflows.wizard.state import (
    describe,
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
    TableInfo,
    consistency_groups,
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
                "column_mappings": [
                    {
                        "source_column": c,
                        "technique": rules.get(c, {}).get("technique", "keep"),
                        "target_column": c,
                        "params": rules.get(c, {}).get("params", {}),
                        "deterministic": rules.get(c, {}).get("deterministic", True),
                    }
                    for c in t["columns"]
                ],
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


MODE_DEFAULTS = (
    ("target_mode", "truncate"),
    ("leak_max_share", 0.0),
    ("leak_action", "fail"),
    ("max_source_readers", None),
)


def _ddl_for(
    source: Connection, target: Connection, info: TableInfo, schema: str, name: str
) -> str:
    with connection_open(target) as dialect:
        try:
            return dialect.create_table_sql(info, schema, name, source_dialect=source.dialect)
        except Exception as exc:
            return f"-- could not generate DDL ({type(exc).__name__})"


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
    intro = Introspector(target)
    try:
        target_schemas = intro.dialect.list_schemas()
        default_schema = intro.dialect.capabilities.default_schema
        existing = {s: [t.name for t in intro.dialect.list_tables(s)] for s in target_schemas}
    except Exception:
        target_schemas, default_schema, existing = [], "", {}
    finally:
        intro.close()
    rows = []
    for t in state["tables"]:
        key = f"{t['schema']}.{t['table']}"
        tgt = state.get("targets", {}).get(key) or {}
        schema = tgt.get("schema") or (t["schema"] if t["schema"] in existing else default_schema)
        name = tgt.get("table") or t["table"]
        exists = name in existing.get(schema, [])
        create = tgt.get("create", not exists)
        info = describe(source, t["schema"], t["table"])
        ddl = _ddl_for(source, target, info, schema, name) if (create and info) else ""
        target_info = describe(target, schema, name) if exists and not create else None
        mismatches = _mismatches(info, target_info, t["columns"])
        rows.append(
            {
                "key": key,
                "t": t,
                "schema": schema,
                "name": name,
                "exists": exists,
                "create": create,
                "ddl": ddl,
                "row_filter": tgt.get("row_filter", ""),
                "copy_unmapped": tgt.get("copy_unmapped", False),
                "mismatches": mismatches,
                "rules": state.get("rules", {}).get(key, {}),
                "info": target_info or info,  # the columns the masked values land in
            }
        )
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


def _mismatches(
    source: TableInfo | None, target: TableInfo | None, columns: list[str]
) -> list[str]:
    if source is None or target is None:
        return []
    out = []
    for name in columns:
        s, t = source.column(name), target.column(name)
        if t is None:
            out.append(f"'{name}' has no column of that name in the target")
        elif s.category != t.category:
            out.append(
                f"'{name}': {s.native_type} → {t.native_type} ({s.category.value} vs "
                f"{t.category.value})"
            )
        elif s.max_length and t.max_length and s.max_length > t.max_length:
            out.append(f"'{name}': source length {s.max_length} > target length {t.max_length}")
    return out
