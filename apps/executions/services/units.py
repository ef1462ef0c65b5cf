"""A run split into units (masking.staged), spread over every connected worker.

begin: claim the queued execution, plan its units, create the staging tables, record the units.
unit: run one unit (any worker); a failure ends the run as failed and drops the staging.
publish: verify and publish the staged units in one target transaction, record the outcome.
The Celery tasks chain a group of units per dependency level and end with the publish.

On PostgreSQL every unit reads the snapshot `begin` exported, held open by its worker
(services.snapshots); elsewhere each unit reads a snapshot of its own, or none, and the
execution's report says so."""

from __future__ import annotations

import logging
import os
import socket
import time

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.connections.models import Connection
from apps.connections.services import connection_open
from apps.executions.models import (
    Execution,
    ExecutionStatus,
    ExecutionTable,
    ExecutionUnit,
    UnitStatus,
)
from apps.executions.services.appdb import APP_DB_ERRORS, APP_DB_LOST, patiently, tolerantly
from apps.executions.services.outcome import (
    audit_end,
    build_report,
    finish,
    safe_message,
    table_label,
)
from apps.executions.services.run import refuse_on_drift
from apps.executions.services.snapshots import snapshot_export, snapshot_hold
from masking import Cancelled, Plan, TerminalError, staged

logger = logging.getLogger("maskflow.executions")
NO_SHARED_SNAPSHOT = {  # by Layout.read_consistency
    "unit": "no shared snapshot: each unit read a consistent snapshot of the source of its own",
    "": "no snapshot: each unit read the source as it was while the unit ran (the source "
    "database offers no consistent snapshot, e.g. SQL Server without ALLOW_SNAPSHOT_ISOLATION)",
}


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _load(execution_id: int) -> Execution:
    return Execution.objects.select_related(
        "workflow__source_connection", "workflow__target_connection", "executed_by"
    ).get(pk=execution_id)


def _dialects(execution: Execution):  # type: ignore[no-untyped-def]
    workflow = execution.workflow
    return (
        connection_open(workflow.source_connection),
        connection_open(workflow.target_connection),
    )


def create_targets(execution: Execution) -> list[list[str]]:
    """The target tables the run creates when missing, as decided when it was started."""
    return (execution.plan_snapshot or {}).get("create_targets") or []


def _plan(execution: Execution) -> Plan:
    return Plan.from_dict(execution.plan_snapshot or {}, secret=execution.workflow.get_secret())


def run_id(execution_id: int) -> str:
    return f"e{execution_id}"


def unit_begin(*, execution_id: int, unit_rows: int | None = None) -> list[list[int]]:
    """Claim and plan the run; returns unit indexes per dependency level ([] if not claimed
    or failed)."""
    now = timezone.now()
    claimed = Execution.objects.filter(pk=execution_id, status=ExecutionStatus.QUEUED).update(
        status=ExecutionStatus.RUNNING, started_at=now, heartbeat_at=now
    )
    if claimed != 1:
        return []
    execution = _load(execution_id)
    try:
        for position, t in enumerate((execution.plan_snapshot or {}).get("tables") or [], 1):
            ExecutionTable.objects.create(
                execution=execution,
                position=position,
                source_table=table_label(t.get("source_schema") or "", t["source_table"])[:300],
                target_table=table_label(
                    t.get("target_schema") or "", t.get("target_table") or t["source_table"]
                )[:300],
            )
        plan = _plan(execution)
        source, target = _dialects(execution)
        holder = None
        try:
            refuse_on_drift(execution.workflow, source, target)
            holder = snapshot_export(source)
            layout = staged.prepare(
                plan,
                source,
                target,
                run_id(execution_id),
                unit_rows=unit_rows or settings.EXECUTION_UNIT_ROWS or staged.DEFAULT_UNIT_ROWS,
                snapshot=holder,
                create_targets=create_targets(execution),
            )
        except BaseException:
            if holder is not None:
                holder.close()
            raise
        finally:
            source.close()
            target.close()
        if holder is not None:
            snapshot_hold(execution_id, holder)
    except Exception as exc:
        _fail(execution, exc, layout=None)
        return []
    ExecutionUnit.objects.bulk_create(
        ExecutionUnit(execution=execution, index=u.index, table=u.table[:300], level=u.level)
        for u in layout.units
    )
    Execution.objects.filter(pk=execution_id).update(
        layout=layout.to_dict(), rows_total=sum(layout.totals.values())
    )
    return [[u.index for u in level] for level in layout.levels()]


class _Cancel:
    """The engine's progress hook for a unit: stops when the run was cancelled or ended."""

    def __init__(self, execution_id: int):
        self.execution_id = execution_id
        self.checked = 0.0

    def update(self, update) -> None:  # type: ignore[no-untyped-def]
        pass

    def should_cancel(self) -> bool:
        now = time.monotonic()
        if now - self.checked < 1.0:
            return False
        self.checked = now
        # The heartbeat says the unit's worker is alive (the reaper fails runs without one);
        # an app database out of reach for a moment stops nothing (the publish checks in).
        return tolerantly(self._heartbeat, what="writing a unit's heartbeat", default=1) != 1

    def _heartbeat(self, committing: bool = False) -> int:
        now = timezone.now()
        marks = {"commit_started_at": now} if committing else {}
        return Execution.objects.filter(
            pk=self.execution_id, status=ExecutionStatus.RUNNING, cancel_requested=False
        ).update(heartbeat_at=now, **marks)

    def before_commit(self) -> None:
        """The publish commits only if the app database can record it and nobody cancelled."""
        try:
            alive = patiently(
                lambda: self._heartbeat(committing=True), what="checking in before the publish"
            )
        except APP_DB_ERRORS:
            raise TerminalError(APP_DB_LOST) from None
        if alive != 1:
            raise Cancelled("")


def unit_run(*, execution_id: int, index: int, worker: str = "") -> str:
    """Run one unit; 'skipped' when the run is no longer running."""
    running = Execution.objects.filter(
        pk=execution_id, status=ExecutionStatus.RUNNING, cancel_requested=False
    )
    if not running.exists():
        return "skipped"
    unit = ExecutionUnit.objects.get(execution_id=execution_id, index=index)
    if unit.status == UnitStatus.DONE:
        return "done"
    execution = _load(execution_id)
    if not _claim(execution, unit, worker or worker_name()):
        # waiting for a reader slot on the source is alive, not lost: keep the heartbeat
        running.update(heartbeat_at=timezone.now())
        return "busy"
    layout = staged.Layout.from_dict(execution.layout)
    try:
        source, target = _dialects(execution)
        try:
            result = staged.run_unit(
                _plan(execution), layout, index, source, target, _Cancel(execution_id)
            )
        finally:
            source.close()
            target.close()
    except Cancelled:
        ExecutionUnit.objects.filter(pk=unit.pk).update(status=UnitStatus.WAITING)
        return "cancelled"
    except Exception as exc:
        ExecutionUnit.objects.filter(pk=unit.pk).update(
            status=UnitStatus.FAILED, finished_at=timezone.now()
        )
        _fail(execution, exc, layout=layout)
        return "failed"
    ExecutionUnit.objects.filter(pk=unit.pk).update(
        status=UnitStatus.DONE,
        rows=result.rows_read,
        seconds=round(result.seconds, 3),
        finished_at=timezone.now(),
    )
    running.update(
        rows_processed=F("rows_processed") + result.rows_read,
        current_table=result.table[:300],
        heartbeat_at=timezone.now(),
    )
    done = running.values_list("rows_processed", "started_at").first()
    if done and done[1]:  # rows/s over the whole run so far (the page's ETA uses it)
        elapsed = (timezone.now() - done[1]).total_seconds()
        running.update(rows_per_second=round(done[0] / elapsed, 1) if elapsed > 0 else 0)
    return "done"


def _claim(execution: Execution, unit: ExecutionUnit, worker: str) -> bool:
    """Mark the unit running, unless as many units as allowed already read from the same
    source connection: the workflow's max_source_readers or EXECUTION_MAX_SOURCE_READERS,
    the smaller of those set (claims are serialised on the connection's row)."""
    limits = (execution.workflow.max_source_readers, settings.EXECUTION_MAX_SOURCE_READERS)
    limit = min((n for n in limits if n), default=0)
    with transaction.atomic():
        if limit > 0:
            source_id = execution.workflow.source_connection_id
            Connection.objects.select_for_update().filter(pk=source_id).first()
            busy = ExecutionUnit.objects.filter(
                status=UnitStatus.RUNNING,
                execution__status=ExecutionStatus.RUNNING,
                execution__workflow__source_connection_id=source_id,
            ).count()
            if busy >= limit:
                return False
        ExecutionUnit.objects.filter(pk=unit.pk).update(
            status=UnitStatus.RUNNING, worker=worker[:200], started_at=timezone.now()
        )
    return True


def unit_publish(*, execution_id: int) -> str:
    """Verify and publish the staged units; the run's final status."""
    execution = _load(execution_id)
    if execution.status != ExecutionStatus.RUNNING:
        return str(execution.status)
    layout = staged.Layout.from_dict(execution.layout)
    source, target = _dialects(execution)
    try:
        if execution.cancel_requested:
            staged.discard(layout, target)
            return _cancelled(execution)
        plan = _plan(execution)
        started = execution.started_at.timestamp() if execution.started_at else None
        result = staged.finish(
            plan, layout, source, target, started=started, progress=_Cancel(execution_id)
        )
    except Cancelled:  # asked during the publish: rolled back, and finish() dropped the staging
        return _cancelled(execution)
    except Exception as exc:
        _fail(execution, exc, layout=None)
        return ExecutionStatus.FAILED
    finally:
        source.close()
        target.close()
    # The target has committed: from here on, the record must catch up with it.
    patiently(lambda: _record_publish(execution, plan, layout, result), what="recording success")
    return ExecutionStatus.SUCCESS


def _cancelled(execution: Execution) -> str:
    if finish(
        execution.pk,
        ExecutionStatus.CANCELLED,
        rows_masked=0,
        error_message="Cancelled on request; the target was not changed.",
    ):
        audit_end(execution, "execution.cancel", AuditEvent.Status.SUCCESS, {})
    return ExecutionStatus.CANCELLED


def _record_publish(execution: Execution, plan: Plan, layout: staged.Layout, result) -> None:  # type: ignore[no-untyped-def]
    """Idempotent (retried after a lost app-database connection): only the call whose UPDATE
    moved the execution to success writes the audit event."""
    execution_id = execution.pk
    report = build_report(execution, plan, result, list(result.created_tables))
    report["lock_seconds"] = round(result.lock_seconds, 3)
    report["units"] = len(layout.units)
    if result.staging_left:  # published; the staging reaper drops it after the keep time
        report["staging_left"] = True
        logger.warning("execution %s: published, its staging tables not dropped yet", execution_id)
    for key in ("units_rerun", "resumed_snapshot"):  # a resumed run: what ran again, how
        if key in (execution.report or {}):
            report[key] = execution.report[key]
    report["workers"] = sorted(
        set(
            ExecutionUnit.objects.filter(execution_id=execution_id).values_list("worker", flat=True)
        )
    )
    if layout.read_consistency != "snapshot":
        report["read_consistency"] = NO_SHARED_SNAPSHOT.get(layout.read_consistency, "")
    by_label = {t.name: t for t in result.tables}
    for row in ExecutionTable.objects.filter(execution_id=execution_id):
        t = by_label.get(row.target_table)
        if t is not None:
            row.status, row.rows_read, row.rows_written = "success", t.rows_read, t.rows_written
            row.rows_masked, row.load_path = t.rows_masked, t.load_path[:200]
            row.save()
    rate = result.rows_processed / result.duration if result.duration > 0 else 0
    if finish(
        execution_id,
        ExecutionStatus.SUCCESS,
        rows_processed=result.rows_processed,
        rows_masked=min(result.rows_masked, result.rows_processed),
        rows_total=result.rows_processed,
        current_table="",
        rows_per_second=round(rate, 1),
        lock_seconds=round(result.lock_seconds, 3),
        report=report,
        error_message="",
    ):
        audit_end(
            execution,
            "execution.finish",
            AuditEvent.Status.SUCCESS,
            {
                "rows_processed": result.rows_processed,
                "rows_masked": result.rows_masked,
                "duration_seconds": round(result.duration, 3),
                "lock_seconds": round(result.lock_seconds, 3),
                "units": len(layout.units),
                "workers": len(report["workers"]),
            },
        )


def _fail(execution: Execution, exc: BaseException, layout: staged.Layout | None) -> None:
    dropped = list(getattr(exc, "dropped_tables", []))
    if layout is not None:
        try:
            _, target = _dialects(execution)
            try:
                dropped += staged.discard(layout, target)
            finally:
                target.close()
        except Exception:  # the reaper drops what is left
            logger.warning("execution %s: staging not dropped", execution.pk)
    message = safe_message(exc)
    if dropped:
        message = (
            f"{message.rstrip('.')}. The tables the run created were dropped: {', '.join(dropped)}."
        )
    logger.warning("execution %s failed: %s", execution.pk, message)
    if finish(execution.pk, ExecutionStatus.FAILED, rows_masked=0, error_message=message):
        audit_end(
            execution,
            "execution.fail",
            AuditEvent.Status.FAILURE,
            {"error": message, "error_type": type(exc).__name__},
        )


def unit_resume_ready(execution_id: int) -> bool:
    """A resumed run still running (its units can go)."""
    return Execution.objects.filter(pk=execution_id, status=ExecutionStatus.RUNNING).exists()
