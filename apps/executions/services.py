"""Execution writes: start, run (what the worker does), cancel, reap.

Status transitions (see ExecutionStatus): queued → running → success | failed | cancelled;
queued → cancelled; running → failed (reaper). Every transition is a conditional UPDATE on the
current status, so two processes can never both claim or both finish the same execution."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.core.logging import redact_text
from apps.core.permissions import can_modify, is_admin
from apps.executions.models import (
    FINAL_STATUSES,
    Execution,
    ExecutionStatus,
    ExecutionTable,
    Trigger,
)
from masking.progress import ProgressUpdate

logger = logging.getLogger("maskflow.executions")

WORKER_LOST = (
    "The worker running this execution stopped responding (worker lost); "
    "the target was rolled back."
)
UNEXPECTED = "The run failed unexpectedly ({name}); the target was rolled back. See the worker log."
PROGRESS_INTERVAL = 1.0  # seconds between progress writes
CANCEL_POLL_INTERVAL = 0.5  # seconds between reads of cancel_requested


class ExecutionRefused(Exception):
    """The execution cannot start (inactive workflow, nothing to run, already active)."""

    def __init__(self, message: str, code: str = "refused"):
        self.code = code
        super().__init__(message)


# --- start ---------------------------------------------------------------------------------------


def can_execute(user, workflow) -> bool:
    """Admins run any workflow; users only the workflows they created (seed 8.4)."""
    return bool(user and user.is_authenticated) and can_modify(user, workflow)


def can_cancel(user, execution: Execution) -> bool:
    return bool(user and user.is_authenticated) and (
        is_admin(user) or execution.executed_by_id == user.pk
    )


def execution_start(
    *, workflow, by, trigger: str = Trigger.UI, request=None, enqueue: bool = True
) -> Execution:
    """Snapshot the workflow's plan into a queued execution and hand it to a worker.

    `enqueue=False` leaves it queued for the caller to run in-process (the CLI's --wait)."""
    from apps.workflows.models import WorkflowStatus
    from apps.workflows.plans import workflow_build_plan, workflow_tables_to_create
    from masking.plan import plan_hash

    if not can_execute(by, workflow):
        _audit_refusal(workflow, by, request, "permission")
        raise PermissionDenied("Only the workflow's owner or an administrator can run it.")
    if workflow.status != WorkflowStatus.ACTIVE:
        raise ExecutionRefused(
            "The workflow is inactive; activate it before running it.", "inactive"
        )
    if not workflow.mappings.exists():
        raise ExecutionRefused("The workflow has no table mappings to run.", "empty")
    if Execution.objects.filter(
        workflow=workflow, status__in=[ExecutionStatus.QUEUED, ExecutionStatus.RUNNING]
    ).exists():
        raise ExecutionRefused(
            "This workflow already has a queued or running execution.", "conflict"
        )

    plan = workflow_build_plan(workflow=workflow)
    snapshot = plan.to_dict()
    # Which target tables the run may create: part of what was decided at start, like the plan.
    snapshot["create_targets"] = [list(t) for t in workflow_tables_to_create(workflow=workflow)]
    with transaction.atomic():
        execution = Execution.objects.create(
            workflow=workflow,
            executed_by=by,
            trigger=trigger,
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
                "plan_hash": execution.plan_hash,
                "key_version": execution.key_version,
            },
        )
        if enqueue:
            pk = execution.pk
            transaction.on_commit(lambda: _enqueue(pk))
    return execution


def _enqueue(execution_id: int) -> None:
    from apps.executions.tasks import run_execution

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


# --- run ------------------------------------------------------------------------------------------


class ExecutionProgress:
    """The engine's Progress, writing the execution row (at most about once a second) and
    reading the cancel flag from the database, so a cancel from any web process reaches the
    worker."""

    def __init__(
        self,
        execution_id: int,
        tables: dict[str, int],
        *,
        on_update: Callable[[ProgressUpdate], None] | None = None,
        deadline: float | None = None,
    ):
        self.execution_id = execution_id
        self.tables = tables  # target label -> ExecutionTable pk
        self.on_update = on_update
        self.deadline = deadline  # time.monotonic() after which the run cancels itself
        self._last_write = float("-inf")
        self._last_poll = float("-inf")
        self._cancel = False
        self.timed_out = False

    def update(self, update: ProgressUpdate) -> None:
        now = time.monotonic()
        boundary = update.phase in ("start", "table_done", "verify")
        if not boundary and now - self._last_write < PROGRESS_INTERVAL:
            return
        self._last_write = now
        stamp = timezone.now()
        Execution.objects.filter(pk=self.execution_id, status=ExecutionStatus.RUNNING).update(
            rows_processed=update.rows_done,
            rows_total=update.rows_total,
            current_table=update.table[:300],
            rows_per_second=round(update.rows_per_s, 1),
            heartbeat_at=stamp,
        )
        table_pk = self.tables.get(update.table)
        if table_pk is not None:
            status = "running" if update.phase in ("start", "load") else "done"
            ExecutionTable.objects.filter(pk=table_pk).update(
                position=update.table_index, status=status, rows_read=update.table_rows_done
            )
        if self.on_update is not None:
            self.on_update(update)

    def should_cancel(self) -> bool:
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline:
            self.timed_out = True
            return True
        if now - self._last_poll >= CANCEL_POLL_INTERVAL:
            self._last_poll = now
            row = (
                Execution.objects.filter(pk=self.execution_id)
                .values_list("cancel_requested", "status")
                .first()
            )
            self._cancel = row is None or bool(row[0]) or row[1] != ExecutionStatus.RUNNING
            if now - self._last_write >= PROGRESS_INTERVAL:
                # Long batches with no progress call still prove the worker is alive.
                self._last_write = now
                Execution.objects.filter(
                    pk=self.execution_id, status=ExecutionStatus.RUNNING
                ).update(heartbeat_at=timezone.now())
        return self._cancel


def _label(schema: str, table: str) -> str:
    return f"{schema}.{table}" if schema else table


def _create_missing_targets(snapshot: dict, source, target, created: list[tuple[str, str]]) -> None:
    """Create the target tables the workflow marked create_target, when they do not exist yet;
    each one created is appended to `created` (schema, table) at once, so a failure part-way
    still knows what to drop."""
    from masking.errors import MaskingError

    for src_schema, src_table, tgt_schema, tgt_table in snapshot.get("create_targets") or []:
        try:
            target.describe_table(tgt_schema or target.capabilities.default_schema, tgt_table)
            continue
        except MaskingError:
            pass
        info = source.describe_table(src_schema or source.capabilities.default_schema, src_table)
        sql = target.create_table_sql(info, tgt_schema, tgt_table, source_dialect=source.name)
        with target.transaction():
            target.execute(sql)
        created.append((tgt_schema, tgt_table))


def _drop_created(execution_id: int, target, created: list[tuple[str, str]]) -> list[str]:
    """After a failed or cancelled run, drop the tables it created (their rows were rolled
    back), newest first, so the target is left as it was. A table that holds rows by now was
    written by someone else and stays. Never raises: the run's own error is what to report.
    Returns the labels of the tables dropped."""
    dropped = []
    for schema, table in reversed(created):
        label = _label(schema, table)
        try:
            info = target.describe_table(schema or target.capabilities.default_schema, table)
            with target.transaction():  # counted and dropped in one transaction
                if target.count_rows(info):
                    logger.warning(
                        "execution %s: created table %s holds rows; left in place",
                        execution_id,
                        label,
                    )
                    continue
                target.execute(f"DROP TABLE {target.qualified(info.schema, info.name)}")
            dropped.append(label)
        except Exception as exc:  # a lost connection, a lock: logged, not raised
            logger.warning(
                "execution %s: could not drop created table %s (%s)",
                execution_id,
                label,
                type(exc).__name__,
            )
    return dropped


def _dropped_text(dropped: list[str]) -> str:
    return f" and the tables it created were dropped: {', '.join(dropped)}" if dropped else ""


def _refuse_on_drift(workflow) -> None:
    """The databases changed since the workflow was saved: refuse before anything is written.
    The same check blocks the Run button's workflow page, so both say the same thing."""
    from apps.workflows.selectors import workflow_drift
    from masking.errors import TerminalError

    problems = workflow_drift(workflow=workflow)
    if problems:
        raise TerminalError(
            "Schema drift since the workflow was saved; edit the workflow to fix: "
            + "; ".join(problems[:20])
        )


def _safe_message(exc: BaseException) -> str:
    """Engine errors name tables/columns/rules, never values; anything else gets a generic text."""
    from masking.errors import MaskingError

    if isinstance(exc, MaskingError):
        return redact_text(str(exc))[:4000]
    # A driver's or library's own text may quote data: only the class name is kept.
    return UNEXPECTED.format(name=type(exc).__name__)


def _finish(execution_id: int, status: str, **fields: Any) -> bool:
    """Move a running execution to a final status; False if someone (the reaper) got there first."""
    return (
        Execution.objects.filter(pk=execution_id, status=ExecutionStatus.RUNNING).update(
            status=status, finished_at=timezone.now(), heartbeat_at=timezone.now(), **fields
        )
        == 1
    )


def _report(execution: Execution, plan, result, created: list[str]) -> dict:
    return {
        "execution_id": execution.pk,
        "workflow": {"id": execution.workflow_id, "name": execution.workflow.name},
        "plan_hash": execution.plan_hash,
        "key_version": execution.key_version,
        "target_mode": plan.target_mode,
        "duration_seconds": round(result.duration, 3),
        "rows_processed": result.rows_processed,
        "rows_masked": result.rows_masked,
        "created_tables": created,
        "tables": [
            {
                "table": t.name,
                "rows_read": t.rows_read,
                "rows_written": t.rows_written,
                "rows_masked": t.rows_masked,
                "seconds": round(t.seconds, 3),
                "rows_per_s": round(t.rows_per_s, 1),
                "load_path": getattr(t, "load_path", ""),
            }
            for t in result.tables
        ],
        "leak_checks": [
            {
                "table": c.table,
                "column": c.column,
                "technique": c.technique,
                "sampled": c.sampled,
                "equal": c.equal,
                "ok": c.ok,
                "identity_hiding": getattr(c, "identity_hiding", True),
                "method": getattr(c, "method", "target"),
                "pii_type": getattr(c, "pii_type", ""),
                "share": getattr(c, "share", 0.0),
            }
            for c in result.leak_report
        ],
        "leak_ok": all(c.ok for c in result.leak_report),
        "fk_ok": result.fk_ok,
    }


def execution_run(
    *,
    execution_id: int,
    on_update: Callable[[ProgressUpdate], None] | None = None,
    timeout: float | None = None,
) -> Execution | None:
    """Run a queued execution in this process. Idempotent: an execution already claimed or
    finished is left alone (a redelivered task message is a no-op). Returns the execution when
    this call ran it, None otherwise. `on_update` sees each progress write (the CLI prints them);
    after `timeout` seconds the run cancels itself like a user cancel."""
    from apps.connections.services import connection_params
    from masking.dialects import get_dialect
    from masking.errors import Cancelled
    from masking.pipeline import run
    from masking.plan import Plan

    now = timezone.now()
    claimed = Execution.objects.filter(pk=execution_id, status=ExecutionStatus.QUEUED).update(
        status=ExecutionStatus.RUNNING, started_at=now, heartbeat_at=now
    )
    if claimed != 1:
        logger.info("execution %s not queued; nothing to do", execution_id)
        return None
    execution = Execution.objects.select_related(
        "workflow__source_connection", "workflow__target_connection", "executed_by"
    ).get(pk=execution_id)
    snapshot = execution.plan_snapshot or {}
    tables: dict[str, int] = {}
    started = time.monotonic()
    workflow = execution.workflow
    created: list[tuple[str, str]] = []
    dropped: list[str] = []
    progress: ExecutionProgress | None = None
    try:
        for position, t in enumerate(snapshot.get("tables") or [], start=1):
            row = ExecutionTable.objects.create(
                execution=execution,
                position=position,
                source_table=_label(t.get("source_schema") or "", t["source_table"])[:300],
                target_table=_label(
                    t.get("target_schema") or "", t.get("target_table") or t["source_table"]
                )[:300],
            )
            tables[row.target_table] = row.pk
        _refuse_on_drift(workflow)
        plan = Plan.from_dict(snapshot, secret=workflow.get_secret())
        source = get_dialect(connection_params(workflow.source_connection))
        target = get_dialect(connection_params(workflow.target_connection))
        try:
            _create_missing_targets(snapshot, source, target, created)
            deadline = time.monotonic() + timeout if timeout else None
            progress = ExecutionProgress(
                execution.pk, tables, on_update=on_update, deadline=deadline
            )
            result = run(plan, source, target, progress)
        except BaseException:
            dropped = _drop_created(execution.pk, target, created)
            raise
        finally:
            source.close()
            target.close()
    except Cancelled:
        duration = time.monotonic() - started
        _roll_back_tables(execution.pk, "cancelled")
        timed_out = bool(progress and progress.timed_out)
        reason = (
            f"Stopped after the {timeout:g} s time limit" if timed_out else "Cancelled on request"
        )
        if _finish(
            execution.pk,
            ExecutionStatus.CANCELLED,
            rows_masked=0,
            error_message=f"{reason}; the target was rolled back{_dropped_text(dropped)}.",
        ):
            _audit_end(
                execution,
                "execution.cancel",
                AuditEvent.Status.SUCCESS,
                {
                    "stage": "timeout" if timed_out else "stopped",
                    "duration_seconds": round(duration, 3),
                    **({"dropped_tables": dropped} if dropped else {}),
                },
            )
        return _reload(execution)
    except Exception as exc:  # every failure ends the run as failed, with a value-free message
        duration = time.monotonic() - started
        message = _safe_message(exc)
        if dropped:
            message = (
                f"{message[:3600].rstrip('.')}; the target was rolled back{_dropped_text(dropped)}."
            )
        logger.warning("execution %s failed: %s", execution.pk, message)
        _roll_back_tables(execution.pk, "failed")
        if _finish(execution.pk, ExecutionStatus.FAILED, rows_masked=0, error_message=message):
            _audit_end(
                execution,
                "execution.fail",
                AuditEvent.Status.FAILURE,
                {
                    "error": message,
                    "error_type": type(exc).__name__,
                    "duration_seconds": round(duration, 3),
                    **({"dropped_tables": dropped} if dropped else {}),
                },
            )
        return _reload(execution)

    report = _report(execution, plan, result, [_label(*t) for t in created])
    by_label = {t.name: t for t in result.tables}
    for label, pk in tables.items():
        t = by_label.get(label)
        if t is not None:
            ExecutionTable.objects.filter(pk=pk).update(
                status="success",
                rows_read=t.rows_read,
                rows_written=t.rows_written,
                rows_masked=t.rows_masked,
                seconds=round(t.seconds, 3),
                rows_per_second=round(t.rows_per_s, 1),
                load_path=getattr(t, "load_path", "")[:200],
            )
    finished = _finish(
        execution.pk,
        ExecutionStatus.SUCCESS,
        rows_processed=result.rows_processed,
        rows_masked=min(result.rows_masked, result.rows_processed),
        rows_total=result.rows_processed,
        current_table="",
        rows_per_second=round(result.rows_processed / result.duration, 1)
        if result.duration > 0
        else 0,
        report=report,
        error_message="",
    )
    if finished:
        _audit_end(
            execution,
            "execution.finish",
            AuditEvent.Status.SUCCESS,
            {
                "rows_processed": result.rows_processed,
                "rows_masked": result.rows_masked,
                "duration_seconds": round(result.duration, 3),
                "tables": len(result.tables),
                "leak_ok": report["leak_ok"],
                "fk_ok": result.fk_ok,
            },
        )
    return _reload(execution)


def _roll_back_tables(execution_id: int, status: str) -> None:
    """After a rollback nothing of the run is in the target, including tables that had finished."""
    tables = ExecutionTable.objects.filter(execution_id=execution_id)
    tables.filter(status="running").update(status=status)
    tables.filter(status="done").update(status="rolled_back")
    tables.update(rows_written=0, rows_masked=0)


def _reload(execution: Execution) -> Execution:
    execution.refresh_from_db()
    return execution


def _audit_end(execution: Execution, action: str, status: str, details: dict) -> None:
    audit_record(
        action=action,
        status=status,
        actor=execution.executed_by,
        resource_type="execution",
        resource_id=execution.pk,
        details={
            "workflow_id": execution.workflow_id,
            "trigger": execution.trigger,
            "plan_hash": execution.plan_hash,
            **details,
        },
    )


# --- cancel / reap --------------------------------------------------------------------------------


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
    return _reload(execution)


def execution_reap(*, stale_after_seconds: int = 60) -> list[int]:
    """Mark running executions whose heartbeat stopped as failed (their worker died: the target
    transaction died with it). Returns the ids reaped."""
    from django.db.models import Q

    now = timezone.now()
    cutoff = now - timedelta(seconds=stale_after_seconds)
    stale = Execution.objects.filter(status=ExecutionStatus.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff)
        | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
        | Q(heartbeat_at__isnull=True, started_at__isnull=True)
    )
    reaped = []
    for execution in stale.select_related("executed_by"):
        claimed = Execution.objects.filter(
            pk=execution.pk, status=ExecutionStatus.RUNNING, heartbeat_at=execution.heartbeat_at
        ).update(
            status=ExecutionStatus.FAILED, finished_at=now, rows_masked=0, error_message=WORKER_LOST
        )
        if claimed != 1:
            continue
        ExecutionTable.objects.filter(execution_id=execution.pk).exclude(status="done").update(
            status="failed"
        )
        reaped.append(execution.pk)
        _audit_end(
            execution,
            "execution.fail",
            AuditEvent.Status.FAILURE,
            {
                "error": WORKER_LOST,
                "reason": "worker_lost",
                "last_heartbeat": execution.heartbeat_at.isoformat()
                if execution.heartbeat_at
                else None,
            },
        )
    if reaped:
        logger.warning("reaped executions with a stale heartbeat: %s", reaped)
    return reaped


def execution_reap_quietly() -> None:
    """For page/API reads: reap without ever turning a read into an error."""
    try:
        execution_reap()
    except Exception:
        logger.exception("execution reaper failed")


__all__ = [
    "FINAL_STATUSES",
    "ExecutionRefused",
    "can_cancel",
    "can_execute",
    "execution_cancel",
    "execution_reap",
    "execution_run",
    "execution_start",
]
