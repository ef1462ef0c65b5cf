import json
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch
from django.views.decorators.http import require_POST

from apps.core.permissions import is_admin
from apps.executions import selectors, services
from apps.executions.api import report_csv
from apps.executions.models import ExecutionStatus, Trigger, UnitStatus
from apps.workflows.models import Workflow

HTMX_STOP_POLLING = 286


@login_required
def execution_list(request):
    services.execution_reap_quietly()
    q = request.GET
    filters = {k: q.get(k, "") for k in ("workflow", "status", "user", "date_from", "date_to")}
    qs = selectors.execution_list(
        user=request.user,
        workflow=filters["workflow"],
        status=filters["status"],
        executed_by=filters["user"],
        date_from=filters["date_from"],
        date_to=filters["date_to"],
    )
    page = Paginator(qs, 25).get_page(q.get("page"))
    context = {
        "page": page,
        "executions": page.object_list,
        "filters": filters,
        "nav": "executions",
        "statuses": ExecutionStatus.choices,
        "workflows": Workflow.objects.order_by("name").only("pk", "name"),
        "users": get_user_model().objects.order_by("username") if is_admin(request.user) else None,
        "querystring": urlencode({k: v for k, v in filters.items() if v}),
    }
    return render(request, "executions/list.html", context)


def _live_context(request, execution) -> dict:
    units: dict[str, dict[str, int]] = {}
    for row in execution.units.values("table", "status").annotate(n=Count("id")):
        units.setdefault(row["table"], dict.fromkeys(UnitStatus.values, 0))[row["status"]] = row[
            "n"
        ]
    workers = sorted(set(execution.units.exclude(worker="").values_list("worker", flat=True)))
    return {
        "execution": execution,
        "tables": list(execution.tables.order_by("position", "pk")),
        "report": execution.report or {},
        "units": units,
        "workers": workers,
        # each unit with the worker that ran it (the first 100: a longer list helps nobody)
        "unit_rows": list(
            execution.units.order_by("index").values(
                "index", "table", "status", "worker", "rows", "seconds"
            )[:100]
        )
        if units
        else [],
    }


@login_required
def execution_detail(request, pk: int):
    execution = selectors.execution_get(user=request.user, pk=pk)
    return render(
        request,
        "executions/detail.html",
        {**_live_context(request, execution), "nav": "executions"},
    )


@login_required
def execution_live(request, pk: int):
    """HTMX partial polled every second; HTTP 286 tells htmx to stop once the run is final."""
    execution = selectors.execution_get(user=request.user, pk=pk)
    if not execution.is_final:
        services.execution_reap_quietly()
        execution.refresh_from_db()
    status = HTMX_STOP_POLLING if execution.is_final else 200
    return render(
        request, "executions/_live.html", _live_context(request, execution), status=status
    )


@login_required
@require_POST
def execution_start_view(request, pk: int):
    """Run a workflow from a page (the Run button, the Re-run button)."""
    workflow = get_object_or_404(Workflow, pk=pk)
    try:
        execution = services.execution_start(
            workflow=workflow, by=request.user, trigger=Trigger.UI, request=request
        )
    except services.ExecutionRefused as exc:
        messages.error(request, str(exc))
        try:
            return redirect("workflows:detail", pk=workflow.pk)
        except NoReverseMatch:
            return redirect("executions:list")
    messages.success(request, f"Execution #{execution.pk} of '{workflow.name}' started.")
    return redirect("executions:detail", pk=execution.pk)


@login_required
@require_POST
def execution_cancel_view(request, pk: int):
    execution = selectors.execution_get(user=request.user, pk=pk)
    if not services.can_cancel(request.user, execution):
        raise PermissionDenied
    if execution.is_final:
        messages.info(request, f"Execution #{execution.pk} is already {execution.status}.")
    else:
        execution = services.execution_cancel(execution=execution, by=request.user, request=request)
        messages.success(
            request,
            "Execution cancelled."
            if execution.is_final
            else "Cancel requested: the run stops after the current batch and rolls back.",
        )
    return redirect("executions:detail", pk=execution.pk)


@login_required
@require_POST
def execution_resume_view(request, pk: int):
    from apps.executions.services.resume import ResumeRefused, execution_resume

    execution = selectors.execution_get(user=request.user, pk=pk)
    if not services.can_cancel(request.user, execution):
        raise PermissionDenied
    try:
        execution_resume(execution=execution, by=request.user, request=request, enqueue=True)
    except ResumeRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Resumed: the units not complete run again.")
    return redirect("executions:detail", pk=execution.pk)


@login_required
def execution_report(request, pk: int, fmt: str):
    execution = selectors.execution_get(user=request.user, pk=pk)
    if not execution.report:
        messages.error(request, f"No report: the execution is {execution.status}.")
        return redirect("executions:detail", pk=execution.pk)
    if fmt == "csv":
        response = HttpResponse(report_csv(execution), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(
            json.dumps(execution.report, indent=2), content_type="application/json"
        )
    response["Content-Disposition"] = (
        f'attachment; filename="execution-{execution.pk}-report.{fmt}"'
    )
    return response
