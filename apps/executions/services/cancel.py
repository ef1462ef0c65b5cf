"""Cancel a run: at once when queued, between batches (with a rollback) when running."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils import timezone

from apps.audit.services import audit_record
from apps.executions.models import Execution, ExecutionStatus
from apps.executions.services.outcome import reload
from apps.executions.services.permissions import can_cancel


def execution_cancel(*, execution: Execution, by, request=None) -> Execution:
    """Queued: cancelled at once. Running: flag it; the worker stops between batches and rolls
    back. Final: nothing to do (returned unchanged)."""
    if not can_cancel(by, execution):
        raise PermissionDenied(
            "Only the user who started the execution or an administrator can cancel it."
        )
    now = timezone.now()
    if (
        Execution.objects.filter(pk=execution.pk, status=ExecutionStatus.QUEUED).update(
            status=ExecutionStatus.CANCELLED,
            cancel_requested=True,
            finished_at=now,
            error_message="Cancelled before it started.",
        )
        == 1
    ):
        audit_record(
            action="execution.cancel",
            request=request,
            actor=by,
            resource_type="execution",
            resource_id=execution.pk,
            details={"stage": "queued", "workflow_id": execution.workflow_id},
        )
    elif (
        Execution.objects.filter(
            pk=execution.pk, status=ExecutionStatus.RUNNING, cancel_requested=False
        ).update(cancel_requested=True)
        == 1
    ):
        audit_record(
            action="execution.cancel",
            request=request,
            actor=by,
            resource_type="execution",
            resource_id=execution.pk,
            details={"stage": "requested", "workflow_id": execution.workflow_id},
        )
    return reload(execution)
