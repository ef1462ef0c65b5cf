"""The schedules page (every schedule, the next to fire first), and the Schedules section of
the workflow page: add, pause, resume, delete (HTMX swaps the section; without HTMX each form
posts and comes back to the workflow page)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.schedules import services
from apps.schedules.models import Schedule
from apps.schedules.selectors import all_schedules, schedule_output
from apps.schedules.templatetags.schedules import section_context
from apps.workflows.models import Workflow


@login_required
def schedule_list(request):
    """What runs when, across workflows: every signed-in user sees every workflow's schedules,
    as on the workflow pages; changes stay on the workflow page, with its checks."""
    rows = [
        {**schedule_output(s, request.user, firings=1), "workflow_name": s.workflow.name}
        for s in all_schedules()
    ]
    return render(request, "schedules/list.html", {"schedules": rows, "nav": "schedules"})


def _answer(request, workflow: Workflow, *, errors=None, form=None):
    if request.htmx:  # errors come back in the section (htmx swaps only 2xx answers)
        context = section_context(workflow, request.user, errors=errors, form=form)
        return render(request, "schedules/_section.html", context)
    if errors:
        messages.error(request, "Schedule not saved: " + "; ".join(errors.values()))
    return redirect("workflows:detail", workflow.pk)


@login_required
@require_POST
def schedule_add(request, pk: int):
    workflow = get_object_or_404(Workflow, pk=pk)
    form = {"cron": request.POST.get("cron", ""), "timezone": request.POST.get("timezone", "UTC")}
    try:
        services.schedule_create(
            workflow=workflow, by=request.user, cron=form["cron"], tz=form["timezone"],
            request=request,
        )  # fmt: skip
    except services.ScheduleInvalid as exc:
        return _answer(request, workflow, errors=exc.errors, form=form)
    if not request.htmx:
        messages.success(request, "Schedule added.")
    return _answer(request, workflow)


def _change(request, pk: int, action: str):
    schedule = get_object_or_404(Schedule.objects.select_related("workflow"), pk=pk)
    if not services.can_change(request.user, schedule):
        raise PermissionDenied
    workflow = schedule.workflow
    if action == "delete":
        services.schedule_delete(schedule=schedule, by=request.user, request=request)
    else:
        services.schedule_set_paused(
            schedule=schedule, by=request.user, paused=action == "pause", request=request
        )
    return _answer(request, workflow)


@login_required
@require_POST
def schedule_pause(request, pk: int):
    return _change(request, pk, "pause")


@login_required
@require_POST
def schedule_resume(request, pk: int):
    return _change(request, pk, "resume")


@login_required
@require_POST
def schedule_delete(request, pk: int):
    return _change(request, pk, "delete")
