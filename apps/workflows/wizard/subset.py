"""The subset part of the wizard's step 2: where the copy starts (a table, a share or a number
of its rows, a condition), whether children follow, and the rows each table would keep."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from apps.connections.services import connection_open
from apps.workflows.wizard.state import load_state, state_connection, workflow_for_edit
from masking import Plan, Subset, TablePlan, subset_estimate


class SubsetFormError(ValueError):
    pass


def subset_from_post(post, tables: list[dict]) -> dict | None:
    """The subset the form describes (None: every row), or SubsetFormError."""
    root = post.get("subset_root", "").strip()
    if not root:
        return None
    chosen = {f"{t['schema']}.{t['table']}" for t in tables}
    if root not in chosen:
        raise SubsetFormError("The subset must start from one of the selected tables.")
    schema, _, table = root.partition(".")
    size = post.get("subset_size", "percent")
    amount = post.get("subset_amount", "").strip()
    data = {
        "roots": [
            {
                "schema": schema,
                "table": table,
                "where": post.get("subset_where", "").strip() or None,
                "percent": amount if size == "percent" and amount else None,
                "rows": amount if size == "rows" and amount else None,
            }
        ],
        "children": post.get("subset_children", "all"),
    }
    if data["children"] == "limited":
        data["limit"] = post.get("subset_limit", "").strip() or None
    try:
        Subset.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise SubsetFormError(
            str(exc)
            if "subset" in str(exc) or "children" in str(exc) or "limit" in str(exc)
            else "Give a number."
        ) from None
    return data


def subset_form(state: dict) -> dict:
    """Initial values of the subset fields from the wizard state."""
    subset = state.get("subset") or {}
    root = (subset.get("roots") or [{}])[0]
    return {
        "root": _root_key(root, state.get("tables") or []),
        "size": "rows" if root.get("rows") is not None else "percent",
        "amount": root.get("rows") if root.get("rows") is not None else root.get("percent") or "",
        "where": root.get("where") or "",
        "children": subset.get("children", "all"),
        "limit": subset.get("limit") or "",
    }


def _root_key(root: dict, tables: list[dict]) -> str:
    """schema.table of the root; a root saved without a schema takes its mapped table's."""
    if not root.get("table"):
        return ""
    schema = root.get("schema") or next(
        (t["schema"] for t in tables if t["table"].lower() == root["table"].lower()), ""
    )
    return f"{schema}.{root['table']}"


@login_required
@require_http_methods(["POST"])
def subset_estimate_partial(request, pk: int | None = None):
    """HTMX: the rows each checked table would keep with the subset in the form."""
    workflow = workflow_for_edit(request, pk)
    state = load_state(request, pk)
    source = state_connection(state, "source")
    tables = []
    for item in request.POST.getlist("table"):
        schema, _, table = item.partition(".")
        tables.append({"schema": schema, "table": table})
    try:
        subset = subset_from_post(request.POST, tables)
    except SubsetFormError as exc:
        return render(request, "workflows/_subset_estimate.html", {"error": str(exc)})
    if subset is None:
        return render(
            request, "workflows/_subset_estimate.html", {"error": "Choose a table to start from."}
        )
    secret = (
        workflow.get_secret()
        if workflow
        else bytes.fromhex(state.get("preview_secret") or "00" * 16)
    )
    plan = Plan(
        tables=tuple(
            TablePlan(t["schema"], t["table"], t["schema"], t["table"], (), None, True)
            for t in tables
        ),
        secret=secret,
        subset=Subset.from_dict(subset),
    )
    try:
        with connection_open(source) as dialect:
            counts, problems = subset_estimate(plan, dialect)
    except Exception as exc:  # noqa: BLE001 - the driver's text may quote a row
        return render(
            request,
            "workflows/_subset_estimate.html",
            {"error": f"Could not size the subset ({type(exc).__name__})."},
        )
    if problems:
        return render(request, "workflows/_subset_estimate.html", {"error": problems[0].message})
    return render(request, "workflows/_subset_estimate.html", {"counts": counts})


__all__ = ["SubsetFormError", "subset_estimate_partial", "subset_form", "subset_from_post"]
