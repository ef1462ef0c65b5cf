"""HTMX partials of the wizard: tables and columns of the source, technique parameters, the live
preview and the row count of a filter."""

from __future__ import annotations

import json
import secrets

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from apps.connections.services import connection_open
from apps.workflows.preview import preview
from apps.workflows.wizard.state import (
    describe,
    load_state,
    params_from_post,
    state_connection,
    wizard_urls,
    workflow_for_edit,
)
from masking import RowFilterError, database_error, get_technique, validate_row_filter


def _page_choice(request, state: dict) -> dict[str, list[str]]:
    """The tables chosen so far (`schema.table` → columns): those ticked on the page when it
    sends them (a schema switch posts the form), else the saved ones."""
    if request.method == "POST" and request.POST.get("tables_shown"):
        return {key: request.POST.getlist(f"col:{key}") for key in request.POST.getlist("table")}
    return {f"{t['schema']}.{t['table']}": t["columns"] for t in state.get("tables", [])}


@login_required
@require_http_methods(["GET", "POST"])
def tables_partial(request, pk: int | None = None):
    """HTMX: the tables of one schema, with checkboxes; FK relations are pointed out. Tables
    chosen in other schemas ride along as hidden fields, so switching schemas keeps them."""
    workflow_for_edit(request, pk)
    state = load_state(request, pk)
    source = state_connection(state, "source")
    schema = (request.POST if request.method == "POST" else request.GET).get("schema", "")
    from apps.connections.browse import connection_tables
    from apps.connections.clean import ConnectionInputError, clean_identifier

    try:
        clean_identifier(schema, "schema")
        tables = connection_tables(conn=source, schema=schema)
    except ConnectionInputError:
        return HttpResponse("<p class='flash flash-error'>Invalid schema.</p>", status=400)
    choice = _page_choice(request, state)
    names = {f"{schema}.{t.name}": t.name for t in tables}
    selected = {key: cols for key, cols in choice.items() if key in names}
    elsewhere = {key: cols for key, cols in choice.items() if key not in names}
    # a chosen table loads its columns as chosen, posted (a wide table's list would not fit
    # in a URL)
    loads = {
        key: json.dumps({"schema": schema, "name": names[key], "chosen_given": "1", "chosen": cols})
        for key, cols in selected.items()
    }
    return render(
        request,
        "workflows/_tables.html",
        {
            "schema": schema,
            "tables": tables,
            "selected": selected,
            "elsewhere": elsewhere,
            "loads": loads,
            "urls": wizard_urls(pk),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def columns_partial(request, pk: int | None = None):
    workflow_for_edit(request, pk)
    state = load_state(request, pk)
    source = state_connection(state, "source")
    data = request.POST if request.method == "POST" else request.GET
    schema, table = data.get("schema", ""), data.get("name", "")
    key = f"{schema}.{table}"
    # the tables chosen on the page now (`table`: the boxes ticked in this schema and the
    # hidden fields of other schemas), not the last saved choice
    ticked = set(data.getlist("table"))
    if key not in ticked:  # the box was unticked: its columns go
        return HttpResponse("")
    info = describe(source, schema, table)
    if info is None:
        return HttpResponse("<p class='flash flash-error'>Table not found.</p>", status=404)
    if data.get("chosen_given"):  # the columns picked on the page, before a switch
        chosen: list[str] | None = data.getlist("chosen")
    else:
        chosen = next(
            (t["columns"] for t in state.get("tables", []) if f"{t['schema']}.{t['table']}" == key),
            None,
        )
    hints = []
    for fk in info.foreign_keys:
        ref_key = f"{fk.ref_schema or schema}.{fk.ref_table}"
        hints.append(
            {
                "column": ", ".join(fk.columns),
                "ref": f"{fk.ref_schema}.{fk.ref_table}",
                "ref_key": ref_key,
                "included": ref_key in ticked,  # other schemas' choices: hidden fields
            }
        )
    return render(
        request,
        "workflows/_columns.html",
        {"info": info, "key": key, "chosen": chosen, "hints": hints},
    )


@login_required
def rule_row_partial(request, pk: int | None = None):
    """HTMX: one column's technique parameters after the technique changed."""
    workflow_for_edit(request, pk)
    state = load_state(request, pk)
    field = request.GET.get("field", "")
    key, _, name = field.partition("|")
    technique = request.GET.get(f"t:{field}") or "keep"
    try:
        tech = get_technique(technique)
    except Exception:
        return HttpResponse("", status=400)
    current = state.get("rules", {}).get(key, {}).get(name, {})
    params = current.get("params", {}) if current.get("technique") == technique else {}
    return render(
        request,
        "workflows/_params.html",
        {"field": field, "tech": tech, "params": params, "urls": wizard_urls(pk)},
    )


def _posted_table(request, pk):
    """(state, source connection, table key, selected table or None) for a partial naming a
    table."""
    workflow_for_edit(request, pk)
    state = load_state(request, pk)
    key = request.POST.get("table_key", "")
    table = next((t for t in state.get("tables", []) if f"{t['schema']}.{t['table']}" == key), None)
    return state, state_connection(state, "source"), key, table


@login_required
@require_http_methods(["POST"])
def preview_partial(request, pk: int | None = None):
    """HTMX: the live preview of one table with the rules currently in the form."""
    state, source, key, table = _posted_table(request, pk)
    if table is None:
        return HttpResponse("", status=404)
    info = describe(source, table["schema"], table["table"])
    rules = []
    for name in table["columns"]:
        field = f"{key}|{name}"
        technique = request.POST.get(f"t:{field}") or "keep"
        try:
            params = params_from_post(request.POST, field, technique)
        except Exception:
            params = {}
        rules.append(
            {
                "source_column": name,
                "technique": technique,
                "params": params,
                "deterministic": request.POST.get(f"d:{field}") == "on",
            }
        )
    secret = bytes.fromhex(state.get("preview_secret") or secrets.token_hex(16))
    try:
        data = preview(
            conn=source,
            info=info,
            rules=rules,
            secret=secret,
            locale=state["basics"].get("locale", "en_US"),
        )
    except Exception as exc:
        return HttpResponse(
            f"<p class='flash flash-error'>Preview unavailable ({type(exc).__name__}).</p>"
        )
    return render(request, "workflows/_preview.html", {"data": data, "key": key})


@login_required
@require_http_methods(["POST"])
def row_count_partial(request, pk: int | None = None):
    """HTMX: how many rows a row filter selects (validated first)."""
    state, source, key, table = _posted_table(request, pk)
    if table is None:
        return HttpResponse("", status=404)

    info = describe(source, table["schema"], table["table"])
    text = request.POST.get(f"filter:{key}", "").strip()
    try:
        with connection_open(source) as dialect:
            try:
                where = (
                    validate_row_filter(
                        text,
                        dialect=dialect.capabilities.sqlglot_dialect,
                        columns={c.name for c in info.columns},
                    )
                    if text
                    else None
                )
            except RowFilterError as exc:
                return HttpResponse(f"<small class='field-error'>{_esc(str(exc))}</small>")
            selected = dialect.count_rows(info, where)
            total = dialect.count_rows(info, None)
    except Exception as exc:  # the driver's text may quote a row: only rule and column shown
        error = database_error(
            exc, table=key, stage="count", columns=[c.name for c in info.columns]
        )
        return HttpResponse(f"<small class='field-error'>{_esc(str(error))}</small>")
    return HttpResponse(
        f"<small data-testid='row-count'>{selected:,} of {total:,} rows selected</small>"
    )


def _esc(text: str) -> str:
    from django.utils.html import escape

    return escape(text)
