from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from apps.core.permissions import can_modify
from apps.workflows import selectors, services, wizard
from apps.workflows.models import Workflow, WorkflowStatus


@login_required
def workflow_list(request):
    return render(
        request,
        "workflows/list.html",
        {"workflows": selectors.workflow_list(user=request.user), "nav": "workflows"},
    )


@login_required
def workflow_detail(request, pk: int):
    workflow = get_object_or_404(
        Workflow.objects.select_related("source_connection", "target_connection", "created_by"),
        pk=pk,
    )
    mappings = list(workflow.mappings.order_by("position", "pk"))
    drift = (
        selectors.workflow_drift(workflow=workflow) if request.GET.get("drift", "1") == "1" else []
    )
    executions = list(selectors.workflow_runs(user=request.user, workflow=workflow, limit=20))
    return render(
        request,
        "workflows/detail.html",
        {
            "workflow": workflow,
            "mappings": mappings,
            "drift": drift,
            "executions": executions,
            "can_modify": can_modify(request.user, workflow),
            "nav": "workflows",
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def workflow_delete(request, pk: int):
    workflow = get_object_or_404(Workflow, pk=pk)
    if not can_modify(request.user, workflow):
        raise PermissionDenied
    if request.method == "POST":
        name = workflow.name
        services.workflow_delete(workflow=workflow, by=request.user, request=request)
        messages.success(request, f"Workflow '{name}' deleted.")
        return redirect("workflows:list")
    return render(request, "workflows/delete.html", {"workflow": workflow, "nav": "workflows"})


@login_required
@require_POST
def workflow_toggle(request, pk: int):
    workflow = get_object_or_404(Workflow, pk=pk)
    if not can_modify(request.user, workflow):
        raise PermissionDenied
    new = (
        WorkflowStatus.INACTIVE
        if workflow.status == WorkflowStatus.ACTIVE
        else WorkflowStatus.ACTIVE
    )
    services.workflow_set_status(workflow=workflow, status=new, by=request.user, request=request)
    messages.success(request, f"Workflow '{workflow.name}' is now {new}.")
    return redirect("workflows:detail", pk)


@login_required
@require_POST
def workflow_rotate_key(request, pk: int):
    workflow = get_object_or_404(Workflow, pk=pk)
    if not can_modify(request.user, workflow):
        raise PermissionDenied
    services.workflow_rotate_key(workflow=workflow, by=request.user, request=request)
    messages.success(
        request,
        f"New masking key {workflow.key_version}: the next run masks every value differently.",
    )
    return redirect("workflows:detail", pk)


STEP_VIEWS = {2: wizard.step_tables, 3: wizard.step_rules, 4: wizard.step_target}


def wizard_step(request, step: int, pk: int | None = None):
    view = STEP_VIEWS.get(step)
    if view is None:
        raise Http404("no such step")
    return view(request, pk=pk, step=step)
