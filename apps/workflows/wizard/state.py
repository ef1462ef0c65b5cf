"""Wizard state: kept in the session between steps, keyed by the workflow being edited."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse

from apps.connections.models import Connection
from apps.core.permissions import can_modify
from apps.workflows import services
from apps.workflows.introspect import Introspector
from apps.workflows.models import Workflow
from masking import TableInfo, get_technique

STEPS = ("Basics", "Source tables", "Masking rules", "Target & review")


def state_key(pk: int | None) -> str:
    return f"wizard:{pk or 'new'}"


def load_state(request, pk: int | None) -> dict:
    return request.session.get(state_key(pk)) or {}


def save_state(request, pk: int | None, state: dict) -> None:
    request.session[state_key(pk)] = state
    request.session.modified = True


def workflow_for_edit(request, pk):
    if pk is None:
        return None
    workflow = get_object_or_404(Workflow, pk=pk)
    if not can_modify(request.user, workflow):
        raise PermissionDenied
    return workflow


def state_from_workflow(workflow: Workflow) -> dict:
    data = services.workflow_as_input(workflow)
    tables, rules, targets = [], {}, {}
    for m in data["mappings"]:
        tkey = f"{m['source_schema']}.{m['source_table']}"
        tables.append(
            {
                "schema": m["source_schema"],
                "table": m["source_table"],
                "columns": [cm["source_column"] for cm in m["column_mappings"]],
            }
        )
        rules[tkey] = {
            cm["source_column"]: {
                "technique": cm["technique"],
                "params": cm.get("params", {}),
                "deterministic": cm.get("deterministic", True),
            }
            for cm in m["column_mappings"]
        }
        targets[tkey] = {
            "create": False,
            "schema": m["target_schema"],
            "table": m["target_table"],
            "row_filter": m["row_filter"],
            "copy_unmapped": m["copy_unmapped"],
        }
    return {
        "basics": {
            k: data[k]
            for k in (
                "name",
                "description",
                "locale",
                "source_connection_id",
                "target_connection_id",
            )
        },
        "tables": tables,
        "rules": rules,
        "targets": targets,
        "target_mode": data["target_mode"],
        "leak_max_share": data.get("leak_max_share", 0.0),
        "leak_action": data.get("leak_action", "fail"),
        "max_source_readers": data.get("max_source_readers"),
        "status": data["status"],
        "subset": data.get("subset"),
        "preview_secret": secrets.token_hex(16),
    }


def wizard_urls(pk) -> dict:
    prefix, args = ("workflows:edit", [pk]) if pk else ("workflows:create", [])
    urls = {
        part: reverse(f"{prefix}_{part}", args=args)
        for part in ("tables", "columns", "params", "preview", "rowcount", "subset")
    }
    urls["steps"] = [reverse(prefix, args=args)] + [step_url(pk, n) for n in (2, 3, 4)]
    return urls


def step_context(request, pk, step: int, **extra) -> dict:
    urls = wizard_urls(pk)
    items = [{"n": i + 1, "label": label, "url": urls["steps"][i]} for i, label in enumerate(STEPS)]
    return {
        "steps": STEPS,
        "step_items": items,
        "step": step,
        "pk": pk,
        "urls": urls,
        "nav": "workflows",
        **extra,
    }


def step_url(pk, step: int) -> str:
    if pk:
        return reverse("workflows:edit_step", args=[pk, step])
    return reverse("workflows:create_step", args=[step])


def state_connection(state: dict, which: str) -> Connection:
    pk = state.get("basics", {}).get(f"{which}_connection_id")
    conn = Connection.objects.filter(pk=pk).first()
    if conn is None:
        raise Http404("connection gone")
    return conn


def describe(conn: Connection, schema: str, table: str) -> TableInfo | None:
    intro = Introspector(conn)
    try:
        return intro.table(schema, table)
    finally:
        intro.close()


def params_from_post(post, field: str, technique: str) -> dict:
    params: dict[str, Any] = {}
    for p in get_technique(technique).params:
        raw = post.get(f"p:{field}:{p.name}")
        if p.kind == "bool":
            params[p.name] = raw in ("on", "true", "1")
        elif raw not in (None, ""):
            params[p.name] = raw
    return params
