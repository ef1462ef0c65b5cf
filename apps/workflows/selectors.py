from __future__ import annotations

from contextlib import ExitStack

from django.db.models import Count, OuterRef, Subquery

import masking
from apps.connections.services import connection_open
from apps.core.permissions import scope_to_user
from apps.workflows.introspect import Introspector
from apps.workflows.models import Workflow
from apps.workflows.plans import workflow_build_plan, workflow_tables_to_create
from apps.workflows.preview import preview


def workflow_runs(*, user, workflow: Workflow | None = None, limit: int | None = None):
    """The runs of workflows `user` may see (their own; admins all), newest first. Read through
    the reverse relation `Workflow.executions`, so this app needs no import of the executions
    app (which sits above it)."""
    run_model = Workflow._meta.get_field("executions").related_model
    qs = scope_to_user(
        run_model.objects.select_related("workflow", "executed_by"), user, "executed_by_id"
    )
    if workflow is not None:
        qs = qs.filter(workflow=workflow)
    qs = qs.order_by("-queued_at", "-pk")
    return qs[:limit] if limit else qs


def workflow_list(*, user):
    """Every workflow, each with the last run `user` may see: another user's runs answer 404
    on their own, so their status and time do not show here either."""
    qs = Workflow.objects.select_related(
        "source_connection", "target_connection", "created_by"
    ).annotate(table_count=Count("mappings"))
    # The list shows each workflow's last run that `user` may see.
    last = workflow_runs(user=user).filter(workflow=OuterRef("pk")).order_by("-queued_at")
    qs = qs.annotate(
        last_status=Subquery(last.values("status")[:1]),
        last_run=Subquery(last.values("queued_at")[:1]),
    )
    return qs.order_by("name")


def workflow_preview(*, workflow: Workflow) -> dict:
    out = []
    src = Introspector(workflow.source_connection)
    try:
        for m in workflow.mappings.order_by("position", "pk"):
            info = src.table(m.source_schema, m.source_table)
            if info is None:
                out.append(
                    {"table": f"{m.source_schema}.{m.source_table}", "error": "table not found"}
                )
                continue
            data = preview(
                conn=workflow.source_connection,
                info=info,
                rules=m.column_mappings,
                secret=workflow.get_secret(),
                locale=workflow.locale,
            )
            out.append({"table": f"{m.source_schema}.{m.source_table}", **data})
    finally:
        src.close()
    return {"tables": out}


def workflow_drift(*, workflow: Workflow, source=None, target=None) -> list[str]:  # type: ignore[no-untyped-def]
    """Differences between the saved mappings and the databases as they are now: one
    `masking.check` of the workflow's plan, and the source types recorded at save. An empty list
    means the workflow can run; anything else blocks runs and is shown on the detail page.
    `source`/`target`: connections already open (a run checks on the ones it runs with)."""
    plan = workflow_build_plan(workflow=workflow)
    # A table the first run creates is checked against the source until it exists; once
    # created it is an existing table like any other.
    create = [(t[2], t[3]) for t in workflow_tables_to_create(workflow=workflow)]
    try:
        with ExitStack() as stack:
            src = source or stack.enter_context(connection_open(workflow.source_connection))
            tgt = target or stack.enter_context(connection_open(workflow.target_connection))
            checked = masking.check(plan, src, tgt, create=create, data=False)
    except Exception as exc:  # unreachable databases are reported, not raised
        return [f"could not introspect the databases ({type(exc).__name__})"]
    return [str(p) for p in checked.problems] + _type_changes(workflow, checked)


def _type_changes(workflow: Workflow, checked: masking.Checked) -> list[str]:
    out = []
    for m in workflow.mappings.all():
        label = f"{m.target_schema}.{m.target_table}" if m.target_schema else m.target_table
        info = checked.source_of(label)
        if info is None:
            continue
        mapped = {cm["source_column"] for cm in m.column_mappings}
        for cm in m.column_mappings:
            col = info.column(cm["source_column"])
            if col is not None and cm.get("data_type") and col.native_type != cm["data_type"]:
                out.append(
                    f"{m.source_table}.{col.name}: type changed from {cm['data_type']} to "
                    f"{col.native_type}"
                )
        added = [c.name for c in info.columns if c.name not in mapped]
        if added and not m.copy_unmapped:
            out.append(f"{m.source_table}: columns not mapped and not copied: {', '.join(added)}")
    return out
