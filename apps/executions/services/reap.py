"""Fail the runs whose worker died: their heartbeat stopped, the target transaction died too."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.executions.models import (
    Execution,
    ExecutionStatus,
    ExecutionTable,
    ExecutionUnit,
    UnitStatus,
)
from apps.executions.services.outcome import (
    NEVER_STARTED,
    WORKER_LOST,
    WORKER_LOST_COMMITTING,
    audit_end,
)

logger = logging.getLogger("maskflow.executions")


def execution_reap(*, stale_after_seconds: int | None = None) -> list[int]:
    """Mark running executions whose heartbeat stopped for EXECUTION_STALE_SECONDS as failed
    (their worker died: the target transaction died with it, unless the worker was committing
    it). Returns the ids reaped."""
    if stale_after_seconds is None:
        stale_after_seconds = settings.EXECUTION_STALE_SECONDS
    now = timezone.now()
    cutoff = now - timedelta(seconds=stale_after_seconds)
    stale = Execution.objects.filter(status=ExecutionStatus.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff)
        | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
        | Q(heartbeat_at__isnull=True, started_at__isnull=True)
    )
    reaped = []
    for execution in stale.select_related("executed_by"):
        committing = execution.commit_started_at is not None
        error = WORKER_LOST_COMMITTING if committing else WORKER_LOST
        claimed = Execution.objects.filter(
            pk=execution.pk, status=ExecutionStatus.RUNNING, heartbeat_at=execution.heartbeat_at
        ).update(status=ExecutionStatus.FAILED, finished_at=now, rows_masked=0, error_message=error)
        if claimed != 1:
            continue
        ExecutionTable.objects.filter(execution_id=execution.pk).exclude(status="done").update(
            status="failed"
        )
        ExecutionUnit.objects.filter(execution_id=execution.pk, status=UnitStatus.RUNNING).update(
            status=UnitStatus.FAILED
        )
        reaped.append(execution.pk)
        audit_end(
            execution,
            "execution.fail",
            AuditEvent.Status.FAILURE,
            {
                "error": error,
                "reason": "worker_lost_committing" if committing else "worker_lost",
                "last_heartbeat": execution.heartbeat_at.isoformat()
                if execution.heartbeat_at
                else None,
            },
        )
    if reaped:
        logger.warning("reaped executions with a stale heartbeat: %s", reaped)
    return reaped + _reap_never_started(now)


def _reap_never_started(now) -> list[int]:  # type: ignore[no-untyped-def]
    """Fail runs queued for EXECUTION_QUEUE_TIMEOUT_SECONDS: no worker took them (their task
    message was lost, say with a broker that kept none, or no worker serves the queue)."""
    limit = settings.EXECUTION_QUEUE_TIMEOUT_SECONDS
    if limit <= 0:
        return []
    old = Execution.objects.filter(
        status=ExecutionStatus.QUEUED, queued_at__lt=now - timedelta(seconds=limit)
    )
    failed = []
    for execution in old.select_related("executed_by"):
        claimed = Execution.objects.filter(pk=execution.pk, status=ExecutionStatus.QUEUED).update(
            status=ExecutionStatus.FAILED, finished_at=now, error_message=NEVER_STARTED
        )
        if claimed != 1:
            continue
        failed.append(execution.pk)
        audit_end(
            execution,
            "execution.fail",
            AuditEvent.Status.FAILURE,
            {"error": NEVER_STARTED, "reason": "never_started"},
        )
    if failed:
        logger.warning("failed executions no worker started: %s", failed)
    return failed


def execution_reap_quietly() -> None:
    """For page/API reads: reap without ever turning a read into an error."""
    try:
        execution_reap()
    except Exception:
        logger.exception("execution reaper failed")
