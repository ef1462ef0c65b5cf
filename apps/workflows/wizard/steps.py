"""The 4-step workflow wizard. State lives in the session between steps; nothing is saved until
the last step, where the same validation as the API runs and lists every problem."""

from __future__ import annotations

import secrets

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from apps.connections.models import Connection
from apps.workflows.forms import BasicsForm
from apps.workflows.introspect import Introspector
from apps.workflows.preview import suggest
from apps.workflows.wizard.state import (
    describe,
    load_state,
    params_from_post,
    save_state,
    state_connection,
    state_from_workflow,
    step_context,
    step_url,
    workflow_for_edit,
)
from apps.workflows.wizard.subset import SubsetFormError, subset_form, subset_from_post
from masking import (
    ParamError,
    get_technique,
    techniques_for,
    validate_params,
)


# --- step 1 -------------------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def step_basics(request, pk: int | None = None):
    workflow = workflow_for_edit(request, pk)
    state = load_state(request, pk)
    if request.method == "GET" and (not state or request.GET.get("restart")):
        state = (
            state_from_workflow(workflow) if workflow else {"preview_secret": secrets.token_hex(16)}
        )
        save_state(request, pk, state)
    form = BasicsForm(request.POST or None, initial=state.get("basics"), instance_pk=pk)
    if request.method == "POST" and form.is_valid():
        old = state.get("basics", {})
        state["basics"] = form.state()
        if old.get("source_connection_id") != state["basics"]["source_connection_id"]:
            state.update(tables=[], rules={}, targets={})
        save_state(request, pk, state)
        return redirect(step_url(pk, 2))
    return render(
        request,
        "workflows/wizard_basics.html",
        step_context(request, pk, 1, form=form),
        status=400 if request.method == "POST" else 200,
    )


# --- step 2 -------------------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def step_tables(request, pk: int | None = None, step: int = 2):
    workflow_for_edit(request, pk)
    state = load_state(request, pk)
    if "basics" not in state:
        return redirect(step_url(pk, 1) if pk else reverse("workflows:create"))
    source = state_connection(state, "source")
    error = ""
    if request.method == "POST":
        chosen = request.POST.getlist("table")
        tables = []
        for item in chosen:
            schema, _, table = item.partition(".")
            cols = request.POST.getlist(f"col:{item}")
            tables.append({"schema": schema, "table": table, "columns": cols})
        if not tables:
            error = "Select at least one table."
        elif any(not t["columns"] for t in tables):
            error = (
                "Select at least one column in every selected table "
                "(open the table to pick columns)."
            )
        else:
            try:
                state["subset"] = subset_from_post(request.POST, tables)
            except SubsetFormError as exc:
                error = str(exc)
        if not error:
            state["tables"] = tables
            save_state(request, pk, state)
            return redirect(step_url(pk, 3))
    intro = Introspector(source)
    try:
        schemas = intro.dialect.list_schemas()
    except Exception as exc:
        schemas, error = (
            [],
            f"Could not read the source schema ({type(exc).__name__}). Test the connection.",
        )
    finally:
        intro.close()
    selected = {f"{t['schema']}.{t['table']}": t["columns"] for t in state.get("tables", [])}
    schema = request.GET.get("schema") or (
        state["tables"][0]["schema"] if state.get("tables") else (schemas[0] if schemas else "")
    )
    return render(
        request,
        "workflows/wizard_tables.html",
        step_context(
            request,
            pk,
            2,
            source=source,
            schemas=schemas,
            schema=schema,
            selected=selected,
            error=error,
            subset=subset_form(
                {"subset": _posted_or(request, state), "tables": state.get("tables")}
            ),
        ),
        status=400 if error and request.method == "POST" else 200,
    )


def _posted_or(request, state: dict) -> dict | None:
    """The subset to show: what was just posted (even if refused), else the saved one."""
    if request.method != "POST":
        return state.get("subset")
    root = request.POST.get("subset_root", "")
    schema, _, table = root.partition(".")
    size, amount = request.POST.get("subset_size"), request.POST.get("subset_amount")
    return {
        "roots": [
            {
                "schema": schema,
                "table": table,
                "where": request.POST.get("subset_where", ""),
                "percent": amount if size != "rows" else None,
                "rows": amount if size == "rows" else None,
            }
        ]
        if root
        else [],
        "children": request.POST.get("subset_children", "all"),
        "limit": request.POST.get("subset_limit", ""),
    }


# --- step 3 -------------------------------------------------------------------------------------
def _column_rows(state: dict, source: Connection) -> list[dict]:
    """Per selected table: its columns with category, keys, suggestion and the current rule."""
    out = []
    for t in state.get("tables", []):
        key = f"{t['schema']}.{t['table']}"
        info = describe(source, t["schema"], t["table"])
        if info is None:
            out.append({"key": key, "missing": True, "columns": []})
            continue
        try:
            suggestions = suggest(source, info)
        except Exception:
            suggestions = {}
        rules = state.setdefault("rules", {}).setdefault(key, {})
        fk_cols = {c for fk in info.foreign_keys for c in fk.columns}
        rows = []
        for name in t["columns"]:
            col = info.column(name)
            if col is None:
                continue
            sug = suggestions.get(name)
            if name not in rules:
                rules[name] = {
                    "technique": sug["technique"] if sug else "keep",
                    "params": dict(sug["params"]) if sug else {},
                    "deterministic": True,
                }
            is_key = col.is_primary_key or info.is_unique(name) or name in fk_cols
            rows.append(
                {
                    "col": col,
                    "suggestion": sug,
                    "rule": rules[name],
                    "is_key": is_key,
                    "choices": techniques_for(col.category),
                    "field": f"{key}|{name}",
                }
            )
        out.append({"key": key, "info": info, "columns": rows})
    return out


def _rules_from_post(request, state: dict) -> list[str]:
    errors = []
    for t in state.get("tables", []):
        key = f"{t['schema']}.{t['table']}"
        rules = state.setdefault("rules", {}).setdefault(key, {})
        for name in t["columns"]:
            field = f"{key}|{name}"
            technique = request.POST.get(f"t:{field}")
            if not technique:
                continue
            try:
                get_technique(technique)
            except Exception:
                errors.append(f"{key}.{name}: unknown technique")
                continue
            params = params_from_post(request.POST, field, technique)
            try:
                params = validate_params(technique, params)
            except ParamError as exc:
                errors.extend(f"{key}.{name}: {k} {v}" for k, v in exc.errors.items())
            rules[name] = {
                "technique": technique,
                "params": params,
                "deterministic": request.POST.get(f"d:{field}") == "on",
            }
    return errors


@login_required
@require_http_methods(["GET", "POST"])
def step_rules(request, pk: int | None = None, step: int = 3):
    workflow_for_edit(request, pk)
    state = load_state(request, pk)
    if not state.get("tables"):
        return redirect(
            step_url(pk, 2)
            if "basics" in state
            else (step_url(pk, 1) if pk else reverse("workflows:create"))
        )
    source = state_connection(state, "source")
    errors = []
    if request.method == "POST":
        errors = _rules_from_post(request, state)
        save_state(request, pk, state)
        if not errors:
            return redirect(step_url(pk, 4))
    tables = _column_rows(state, source)
    save_state(request, pk, state)
    return render(
        request,
        "workflows/wizard_rules.html",
        step_context(request, pk, 3, tables=tables, errors=errors),
        status=400 if errors else 200,
    )
