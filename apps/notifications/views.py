"""The Notifications section of the workflow page (HTMX swaps the section; without HTMX each
form posts and comes back to the workflow page)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.core.permissions import can_modify
from apps.notifications import services
from apps.notifications.models import Notification
from apps.notifications.templatetags.notifications import section_context
from apps.workflows.models import Workflow


def _answer(request, workflow: Workflow, **extra):
    if request.htmx:  # errors come back in the section (htmx swaps only 2xx answers)
        context = section_context(workflow, request.user, **extra)
        return render(request, "notifications/_section.html", context)
    if extra.get("errors"):
        messages.error(request, "Notification not added: " + "; ".join(extra["errors"].values()))
    elif extra.get("secret"):
        messages.success(
            request, f"Webhook added. Its signing secret, shown this once: {extra['secret']}"
        )
    return redirect("workflows:detail", workflow.pk)


@login_required
@require_POST
def notification_add(request, pk: int):
    workflow = get_object_or_404(Workflow, pk=pk)
    if not can_modify(request.user, workflow):
        raise PermissionDenied
    form = {k: request.POST.get(k, "") for k in ("channel", "when", "target")}
    try:
        _, secret = services.notification_create(
            workflow=workflow, by=request.user, channel=form["channel"],
            when=form["when"] or "failure", target=form["target"], request=request,
        )  # fmt: skip
    except services.NotificationInvalid as exc:
        return _answer(request, workflow, errors=exc.errors, form=form)
    return _answer(request, workflow, secret=secret)


@login_required
@require_POST
def notification_delete(request, pk: int):
    notification = get_object_or_404(Notification.objects.select_related("workflow"), pk=pk)
    workflow = notification.workflow
    if not can_modify(request.user, workflow):
        raise PermissionDenied
    services.notification_delete(notification=notification, by=request.user, request=request)
    return _answer(request, workflow)
