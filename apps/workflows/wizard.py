"""The 4-step workflow wizard. State lives in the session between steps; nothing is saved until
the last step, where the same validation as the API runs and lists every problem."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from apps.connections.models import Connection
from apps.connections.services import connection_params
from apps.core.permissions import can_modify
from apps.workflows import services
from apps.workflows.forms import BasicsForm, TargetModeForm
from apps.workflows.models import Workflow
from apps.workflows.preview import preview, suggest
from apps.workflows.validation import Introspector, WorkflowInvalid
from masking.schema import TableInfo
from masking.techniques import get_technique, techniques_for

STEPS = ("Basics", "Source tables", "Masking rules", "Target & review")
KEY_TYPES = ("pk", "fk", "unique")


# --- state --------------------------------------------------------------------------------------
def _key(pk: int | None) -> str:
    return f"wizard:{pk or 'new'}"


def _load(request, pk: int | None) -> dict:
    return request.session.get(_key(pk)) or {}


def _save(request, pk: int | None, state: dict) -> None:
    request.session[_key(pk)] = state
    request.session.modified = True


def _workflow_for_edit(request, pk):
    if pk is None:
        return None
    workflow = get_object_or_404(Workflow, pk=pk)
    if not can_modify(request.user, workflow):
        raise PermissionDenied
    return workflow


def _state_from_workflow(workflow: Workflow) -> dict:
    data = services.workflow_as_input(workflow)
    tables, rules, targets = [], {}, {}
    for m in data["mappings"]:
        tkey = f"{m['source_schema']}.{m['source_table']}"
        tables.append({"schema": m["source_schema"], "table": m["source_table"],
                       "columns": [cm["source_column"] for cm in m["column_mappings"]]})
        rules[tkey] = {cm["source_column"]: {"technique": cm["pii_attribute"], "params": cm.get("params", {}),
                                              "deterministic": cm.get("deterministic", True)} for cm in m["column_mappings"]}
        targets[tkey] = {"create": False, "schema": m["target_schema"], "table": m["target_table"],
                         "row_filter": m["row_filter"], "copy_unmapped": m["copy_unmapped"]}
    return {"basics": {k: data[k] for k in ("name", "description", "locale", "source_connection_id", "target_connection_id")},
            "tables": tables, "rules": rules, "targets": targets, "target_mode": data["target_mode"],
            "status": data["status"], "preview_secret": secrets.token_hex(16)}


def wizard_urls(pk) -> dict:
    prefix, args = ("workflows:edit", [pk]) if pk else ("workflows:create", [])
    urls = {part: reverse(f"{prefix}_{part}", args=args) for part in ("tables", "columns", "params", "preview", "rowcount")}
    urls["steps"] = [reverse(prefix, args=args)] + [_step_url(pk, n) for n in (2, 3, 4)]
    return urls


def _ctx(request, pk, step: int, **extra) -> dict:
    urls = wizard_urls(pk)
    items = [{"n": i + 1, "label": label, "url": urls["steps"][i]} for i, label in enumerate(STEPS)]
    return {"steps": STEPS, "step_items": items, "step": step, "pk": pk, "urls": urls, "nav": "workflows", **extra}


def _step_url(pk, step: int) -> str:
    if pk:
        return reverse("workflows:edit_step", args=[pk, step])
    return reverse("workflows:create_step", args=[step])


def _conn(state: dict, which: str) -> Connection:
    pk = state.get("basics", {}).get(f"{which}_connection_id")
    conn = Connection.objects.filter(pk=pk).first()
    if conn is None:
        raise Http404("connection gone")
    return conn


def _describe(conn: Connection, schema: str, table: str) -> TableInfo | None:
    intro = Introspector(conn)
    try:
        return intro.table(schema, table)
    finally:
        intro.close()


# --- step 1 -------------------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def step_basics(request, pk: int | None = None):
    workflow = _workflow_for_edit(request, pk)
    state = _load(request, pk)
    if request.method == "GET" and (not state or request.GET.get("restart")):
        state = _state_from_workflow(workflow) if workflow else {"preview_secret": secrets.token_hex(16)}
        _save(request, pk, state)
    form = BasicsForm(request.POST or None, initial=state.get("basics"), instance_pk=pk)
    if request.method == "POST" and form.is_valid():
        old = state.get("basics", {})
        state["basics"] = form.state()
        if old.get("source_connection_id") != state["basics"]["source_connection_id"]:
            state.update(tables=[], rules={}, targets={})
        _save(request, pk, state)
        return redirect(_step_url(pk, 2))
    return render(request, "workflows/wizard_basics.html", _ctx(request, pk, 1, form=form),
                  status=400 if request.method == "POST" else 200)


# --- step 2 -------------------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def step_tables(request, pk: int | None = None, step: int = 2):
    _workflow_for_edit(request, pk)
    state = _load(request, pk)
    if "basics" not in state:
        return redirect(_step_url(pk, 1) if pk else reverse("workflows:create"))
    source = _conn(state, "source")
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
            error = "Select at least one column in every selected table (open the table to pick columns)."
        else:
            state["tables"] = tables
            _save(request, pk, state)
            return redirect(_step_url(pk, 3))
    intro = Introspector(source)
    try:
        schemas = intro.dialect.list_schemas()
    except Exception as exc:
        schemas, error = [], f"Could not read the source schema ({type(exc).__name__}). Test the connection."
    finally:
        intro.close()
    selected = {f"{t['schema']}.{t['table']}": t["columns"] for t in state.get("tables", [])}
    schema = request.GET.get("schema") or (state["tables"][0]["schema"] if state.get("tables") else (schemas[0] if schemas else ""))
    return render(request, "workflows/wizard_tables.html",
                  _ctx(request, pk, 2, source=source, schemas=schemas, schema=schema, selected=selected, error=error),
                  status=400 if error and request.method == "POST" else 200)


@login_required
def tables_partial(request, pk: int | None = None):
    """HTMX: the tables of one schema, with checkboxes; FK relations are pointed out."""
    _workflow_for_edit(request, pk)
    state = _load(request, pk)
    source = _conn(state, "source")
    schema = request.GET.get("schema", "")
    from apps.connections.services import ConnectionInputError, clean_identifier, connection_tables

    try:
        clean_identifier(schema, "schema")
        tables = connection_tables(conn=source, schema=schema)
    except ConnectionInputError:
        return HttpResponse("<p class='flash flash-error'>Invalid schema.</p>", status=400)
    selected = {f"{t['schema']}.{t['table']}": t["columns"] for t in state.get("tables", [])}
    return render(request, "workflows/_tables.html",
                  {"schema": schema, "tables": tables, "selected": selected, "urls": wizard_urls(pk)})


@login_required
def columns_partial(request, pk: int | None = None):
    _workflow_for_edit(request, pk)
    state = _load(request, pk)
    source = _conn(state, "source")
    schema, table = request.GET.get("schema", ""), request.GET.get("table", "")
    info = _describe(source, schema, table)
    if info is None:
        return HttpResponse("<p class='flash flash-error'>Table not found.</p>", status=404)
    key = f"{schema}.{table}"
    chosen = next((t["columns"] for t in state.get("tables", []) if f"{t['schema']}.{t['table']}" == key), None)
    selected_tables = {f"{t['schema']}.{t['table']}" for t in state.get("tables", [])}
    hints = [
        {"column": ", ".join(fk.columns), "ref": f"{fk.ref_schema}.{fk.ref_table}",
         "included": f"{fk.ref_schema or schema}.{fk.ref_table}" in selected_tables}
        for fk in info.foreign_keys
    ]
    return render(request, "workflows/_columns.html",
                  {"info": info, "key": key, "chosen": chosen, "hints": hints})


# --- step 3 -------------------------------------------------------------------------------------
def _column_rows(state: dict, source: Connection) -> list[dict]:
    """Per selected table: its columns with category, keys, suggestion and the current rule."""
    out = []
    for t in state.get("tables", []):
        key = f"{t['schema']}.{t['table']}"
        info = _describe(source, t["schema"], t["table"])
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
                rules[name] = {"technique": sug["technique"] if sug else "keep", "params": dict(sug["params"]) if sug else {},
                               "deterministic": True}
            is_key = col.is_primary_key or info.is_unique(name) or name in fk_cols
            rows.append({"col": col, "suggestion": sug, "rule": rules[name], "is_key": is_key,
                         "choices": techniques_for(col.category), "field": f"{key}|{name}"})
        out.append({"key": key, "info": info, "columns": rows})
    return out


def _params_from_post(post, field: str, technique: str) -> dict:
    params: dict[str, Any] = {}
    for p in get_technique(technique).params:
        raw = post.get(f"p:{field}:{p.name}")
        if p.kind == "bool":
            params[p.name] = raw in ("on", "true", "1")
        elif raw not in (None, ""):
            params[p.name] = raw
    return params


def _rules_from_post(request, state: dict) -> list[str]:
    errors = []
    from masking.errors import ParamError
    from masking.techniques import validate_params

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
            params = _params_from_post(request.POST, field, technique)
            try:
                params = validate_params(technique, params)
            except ParamError as exc:
                errors.extend(f"{key}.{name}: {k} {v}" for k, v in exc.errors.items())
            rules[name] = {"technique": technique, "params": params,
                           "deterministic": request.POST.get(f"d:{field}") == "on"}
    return errors


@login_required
@require_http_methods(["GET", "POST"])
def step_rules(request, pk: int | None = None, step: int = 3):
    _workflow_for_edit(request, pk)
    state = _load(request, pk)
    if not state.get("tables"):
        return redirect(_step_url(pk, 2) if "basics" in state else (_step_url(pk, 1) if pk else reverse("workflows:create")))
    source = _conn(state, "source")
    errors = []
    if request.method == "POST":
        errors = _rules_from_post(request, state)
        _save(request, pk, state)
        if not errors:
            return redirect(_step_url(pk, 4))
    tables = _column_rows(state, source)
    _save(request, pk, state)
    return render(request, "workflows/wizard_rules.html", _ctx(request, pk, 3, tables=tables, errors=errors),
                  status=400 if errors else 200)


@login_required
def rule_row_partial(request, pk: int | None = None):
    """HTMX: one column's technique parameters after the technique changed."""
    _workflow_for_edit(request, pk)
    state = _load(request, pk)
    field = request.GET.get("field", "")
    key, _, name = field.partition("|")
    technique = request.GET.get(f"t:{field}") or "keep"
    try:
        tech = get_technique(technique)
    except Exception:
        return HttpResponse("", status=400)
    current = state.get("rules", {}).get(key, {}).get(name, {})
    params = current.get("params", {}) if current.get("technique") == technique else {}
    return render(request, "workflows/_params.html", {"field": field, "tech": tech, "params": params,
                                                       "urls": wizard_urls(pk)})


@login_required
@require_http_methods(["POST"])
def preview_partial(request, pk: int | None = None):
    """HTMX: the live preview of one table with the rules currently in the form."""
    _workflow_for_edit(request, pk)
    state = _load(request, pk)
    source = _conn(state, "source")
    key = request.POST.get("table_key", "")
    table = next((t for t in state.get("tables", []) if f"{t['schema']}.{t['table']}" == key), None)
    if table is None:
        return HttpResponse("", status=404)
    info = _describe(source, table["schema"], table["table"])
    rules = []
    for name in table["columns"]:
        field = f"{key}|{name}"
        technique = request.POST.get(f"t:{field}") or "keep"
        try:
            params = _params_from_post(request.POST, field, technique)
        except Exception:
            params = {}
        rules.append({"source_column": name, "pii_attribute": technique, "params": params,
                      "deterministic": request.POST.get(f"d:{field}") == "on"})
    secret = bytes.fromhex(state.get("preview_secret") or secrets.token_hex(16))
    try:
        data = preview(conn=source, info=info, rules=rules, secret=secret, locale=state["basics"].get("locale", "en_US"))
    except Exception as exc:
        return HttpResponse(f"<p class='flash flash-error'>Preview unavailable ({type(exc).__name__}).</p>")
    return render(request, "workflows/_preview.html", {"data": data, "key": key})


# --- step 4 -------------------------------------------------------------------------------------
def _build_input(state: dict) -> dict:
    mappings = []
    for t in state["tables"]:
        key = f"{t['schema']}.{t['table']}"
        target = state.get("targets", {}).get(key, {})
        rules = state.get("rules", {}).get(key, {})
        mappings.append({
            "source_schema": t["schema"], "source_table": t["table"],
            "target_schema": target.get("schema", ""), "target_table": target.get("table") or t["table"],
            "create_target": bool(target.get("create", False)), "row_filter": target.get("row_filter", ""),
            "copy_unmapped": bool(target.get("copy_unmapped", False)),
            "column_mappings": [
                {"source_column": c, "pii_attribute": rules.get(c, {}).get("technique", "keep"), "target_column": c,
                 "params": rules.get(c, {}).get("params", {}), "deterministic": rules.get(c, {}).get("deterministic", True)}
                for c in t["columns"]
            ],
        })
    return {**state["basics"], "target_mode": state.get("target_mode", "truncate"), "status": state.get("status", "active"),
            "mappings": mappings}


def _ddl_for(source: Connection, target: Connection, info: TableInfo, schema: str, name: str) -> str:
    from masking.dialects import get_dialect

    with get_dialect(connection_params(target)) as dialect:
        try:
            return dialect.create_table_sql(info, schema, name, source_dialect=source.dialect)
        except Exception as exc:
            return f"-- could not generate DDL ({type(exc).__name__})"


@login_required
@require_http_methods(["GET", "POST"])
def step_target(request, pk: int | None = None, step: int = 4):
    workflow = _workflow_for_edit(request, pk)
    state = _load(request, pk)
    if not state.get("tables"):
        return redirect(_step_url(pk, 2) if "basics" in state else reverse("workflows:create"))
    source, target = _conn(state, "source"), _conn(state, "target")
    issues: list[dict] = []
    mode_form = TargetModeForm(request.POST or None, initial={"target_mode": state.get("target_mode", "truncate")})
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
            state["target_mode"] = mode_form.cleaned_data["target_mode"]
        _save(request, pk, state)
        if request.POST.get("action") == "save":
            try:
                if workflow:
                    saved = services.workflow_update(workflow=workflow, data=_build_input(state), by=request.user, request=request)
                    messages.success(request, f"Workflow '{saved.name}' updated.")
                else:
                    saved = services.workflow_create(data=_build_input(state), by=request.user, request=request)
                    messages.success(request, f"Workflow '{saved.name}' created.")
            except WorkflowInvalid as exc:
                issues = exc.issues
            else:
                request.session.pop(_key(pk), None)
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
        info = _describe(source, t["schema"], t["table"])
        ddl = _ddl_for(source, target, info, schema, name) if (create and info) else ""
        mismatches = _mismatches(info, _describe(target, schema, name) if exists and not create else None, t["columns"])
        rows.append({"key": key, "t": t, "schema": schema, "name": name, "exists": exists, "create": create, "ddl": ddl,
                     "row_filter": tgt.get("row_filter", ""), "copy_unmapped": tgt.get("copy_unmapped", False),
                     "mismatches": mismatches, "rules": state.get("rules", {}).get(key, {})})
    return render(request, "workflows/wizard_target.html",
                  _ctx(request, pk, 4, rows=rows, mode_form=mode_form, issues=issues, basics=state["basics"],
                       source=source, target=target, existing=existing),
                  status=400 if issues else 200)


def _mismatches(source: TableInfo | None, target: TableInfo | None, columns: list[str]) -> list[str]:
    if source is None or target is None:
        return []
    out = []
    for name in columns:
        s, t = source.column(name), target.column(name)
        if t is None:
            out.append(f"'{name}' has no column of that name in the target")
        elif s.category != t.category:
            out.append(f"'{name}': {s.native_type} → {t.native_type} ({s.category.value} vs {t.category.value})")
        elif s.max_length and t.max_length and s.max_length > t.max_length:
            out.append(f"'{name}': source length {s.max_length} > target length {t.max_length}")
    return out


@login_required
@require_http_methods(["POST"])
def row_count_partial(request, pk: int | None = None):
    """HTMX: how many rows a row filter selects (validated first)."""
    _workflow_for_edit(request, pk)
    state = _load(request, pk)
    source = _conn(state, "source")
    key = request.POST.get("table_key", "")
    table = next((t for t in state.get("tables", []) if f"{t['schema']}.{t['table']}" == key), None)
    if table is None:
        return HttpResponse("", status=404)
    from masking.dialects import get_dialect
    from masking.rowfilter import RowFilterError, validate_row_filter

    info = _describe(source, table["schema"], table["table"])
    text = request.POST.get(f"filter:{key}", "").strip()
    with get_dialect(connection_params(source)) as dialect:
        try:
            where = validate_row_filter(text, dialect=dialect.capabilities.sqlglot_dialect,
                                        columns={c.name for c in info.columns}) if text else None
        except RowFilterError as exc:
            return HttpResponse(f"<small class='field-error'>{_esc(str(exc))}</small>")
        selected = dialect.count_rows(info, where)
        total = dialect.count_rows(info, None)
    return HttpResponse(f"<small data-testid='row-count'>{selected:,} of {total:,} rows selected</small>")


def _esc(text: str) -> str:
    from django.utils.html import escape

    return escape(text)
