"""Start a run: check who and what, snapshot the plan into a queued execution, enqueue it."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.executions.models import Execution, ExecutionStatus, Trigger
from apps.executions.services.permissions import can_execute
from apps.workflows.models import Workflow, WorkflowStatus
from apps.workflows.plans import workflow_build_plan, workflow_tables_to_create
from masking import plan_hash


class ExecutionRefused(Exception):
    """The execution cannot start (inactive workflow, nothing to run, already active)."""

    def __init__(self, message: str, code: str = "refused", *, active: int | None = None):
        self.code = code
        self.active = active  # the queued or running execution, for "conflict"
        super().__init__(message)


def execution_start(
    *,
    workflow,
    by,
    trigger: str = Trigger.UI,
    request=None,
    enqueue: bool = True,
    schedule=None,
) -> Execution:
    """Snapshot the workflow's plan into a queued execution and hand it to a worker.

    `enqueue=False` leaves it queued for the caller to run in-process (the CLI's --wait);
    `schedule`: the schedule that fired it (trigger "schedule")."""
    if not can_execute(by, workflow):
        _audit_refusal(workflow, by, request, "permission")
        raise PermissionDenied("Only the workflow's owner or an administrator can run it.")
    if workflow.status != WorkflowStatus.ACTIVE:
        raise ExecutionRefused(
            "The workflow is inactive; activate it before running it.", "inactive"
        )
    if not workflow.mappings.exists():
        raise ExecutionRefused("The workflow has no table mappings to run.", "empty")
    plan = workflow_build_plan(workflow=workflow)
    snapshot = plan.to_dict()
    # Which target tables the run may create: part of what was decided at start, like the plan.
    snapshot["create_targets"] = [list(t) for t in workflow_tables_to_create(workflow=workflow)]
    with transaction.atomic():
        # One active run per workflow, also when a schedule fires as someone clicks Run: the
        # check and the insert are serialised on the workflow's row.
        Workflow.objects.select_for_update().filter(pk=workflow.pk).first()
        active = (
            Execution.objects.filter(
                workflow=workflow, status__in=[ExecutionStatus.QUEUED, ExecutionStatus.RUNNING]
            )
            .values_list("pk", flat=True)
            .first()
        )
        if active is not None:
            raise ExecutionRefused(
                "This workflow already has a queued or running execution.",
                "conflict",
                active=active,
            )
        execution = Execution.objects.create(
            workflow=workflow,
            executed_by=by,
            trigger=trigger,
            schedule=schedule,
            status=ExecutionStatus.QUEUED,
            plan_snapshot=snapshot,
            plan_hash=plan_hash(plan),
            key_version=plan.key_version,
        )
        audit_record(
            action="execution.start",
            request=request,
            actor=by,
            resource_type="execution",
            resource_id=execution.pk,
            details={
                "workflow_id": workflow.pk,
                "workflow": workflow.name,
                "trigger": trigger,
                **({"schedule_id": schedule.pk} if schedule is not None else {}),
                "plan_hash": execution.plan_hash,
                "key_version": execution.key_version,
            },
        )
        if enqueue:
            pk = execution.pk
            transaction.on_commit(lambda: _enqueue(pk))
    return execution


def _enqueue(execution_id: int) -> None:
    # The one import kept inside a function: apps.executions.tasks imports this package at
    # module level (Celery loads tasks first), so importing the task here at the top would
    # be a cycle.
    from apps.executions.tasks import plan_units, run_execution

    # A subset's key tables live on one source connection: such a run is never split.
    subset = Execution.objects.filter(pk=execution_id, workflow__subset__isnull=False).exists()
    if settings.EXECUTION_UNIT_ROWS > 0 and not subset:
        plan_units.delay(execution_id)
    else:
        run_execution.delay(execution_id)


def _audit_refusal(workflow, by, request, reason: str) -> None:
    audit_record(
        action="execution.start",
        status=AuditEvent.Status.DENIED,
        request=request,
        actor=by if getattr(by, "is_authenticated", False) else None,
        resource_type="workflow",
        resource_id=workflow.pk,
        details={"reason": reason},
    )
