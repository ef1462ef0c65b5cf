"""Run a queued execution in this process: what the worker does with a run_execution message."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.utils import timezone

import masking
from apps.audit.models import AuditEvent
from apps.connections.services import connection_open
from apps.executions.models import Execution, ExecutionStatus, ExecutionTable
from apps.executions.services.appdb import patiently
from apps.executions.services.outcome import (
    audit_end,
    build_report,
    dropped_text,
    finish,
    reload,
    roll_back_tables,
    safe_message,
    table_label,
)
from apps.executions.services.progress import ExecutionProgress
from apps.workflows.selectors import workflow_drift
from masking import Cancelled, Plan, ProgressUpdate, TerminalError

logger = logging.getLogger("maskflow.executions")
UNREACHABLE = "could not introspect the databases"


def refuse_on_drift(workflow, source, target) -> None:  # type: ignore[no-untyped-def]
    """The databases changed since the workflow was saved: refuse before anything is written.
    The same check blocks the Run button's workflow page, so both say the same thing. Checked
    on the connections the run goes on with."""
    problems = workflow_drift(workflow=workflow, source=source, target=target)
    unreachable = [p for p in problems if p.startswith(UNREACHABLE)]
    if unreachable:  # no drift found: the check itself could not be made
        raise TerminalError(
            "The databases could not be reached to check the workflow against them: "
            + unreachable[0].removeprefix(UNREACHABLE).strip(" ()")
        )
    if problems:
        raise TerminalError(
            "Schema drift since the workflow was saved; edit the workflow to fix: "
            + "; ".join(problems[:20])
        )


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
    dropped: list[str] = []
    progress: ExecutionProgress | None = None
    try:
        for position, t in enumerate(snapshot.get("tables") or [], start=1):
            row = ExecutionTable.objects.create(
                execution=execution,
                position=position,
                source_table=table_label(t.get("source_schema") or "", t["source_table"])[:300],
                target_table=table_label(
                    t.get("target_schema") or "", t.get("target_table") or t["source_table"]
                )[:300],
            )
            tables[row.target_table] = row.pk
        plan = Plan.from_dict(snapshot, secret=workflow.get_secret())
        deadline = time.monotonic() + timeout if timeout else None
        progress = ExecutionProgress(execution.pk, tables, on_update=on_update, deadline=deadline)
        with (  # the run's one source and one target connection
            connection_open(workflow.source_connection) as source,
            connection_open(workflow.target_connection) as target,
        ):
            target.prepare_load()  # e.g. a bulk-copy login, while the drift check reads catalogs
            refuse_on_drift(workflow, source, target)
            try:
                result = masking.run(
                    plan,
                    source,
                    target,
                    progress,
                    # which target tables the run may create was decided at start, like the plan
                    create_targets=snapshot.get("create_targets") or [],
                )
            except BaseException as exc:
                dropped = list(getattr(exc, "dropped_tables", []))
                raise
    except Cancelled:
        duration = time.monotonic() - started
        patiently(lambda: roll_back_tables(execution.pk, "cancelled"), what="recording a cancel")
        timed_out = bool(progress and progress.timed_out)
        reason = (
            f"Stopped after the {timeout:g} s time limit" if timed_out else "Cancelled on request"
        )
        if patiently(
            lambda: finish(
                execution.pk,
                ExecutionStatus.CANCELLED,
                rows_masked=0,
                error_message=f"{reason}; the target was rolled back{dropped_text(dropped)}.",
            ),
            what="recording a cancel",
        ):
            details = {
                "stage": "timeout" if timed_out else "stopped",
                "duration_seconds": round(duration, 3),
                **({"dropped_tables": dropped} if dropped else {}),
            }
            patiently(
                lambda: audit_end(
                    execution, "execution.cancel", AuditEvent.Status.SUCCESS, details
                ),
                what="auditing a cancel",
            )
        return patiently(lambda: reload(execution), what="reading the outcome")
    except Exception as exc:  # every failure ends the run as failed, with a value-free message
        duration = time.monotonic() - started
        message = safe_message(exc)
        if dropped:
            message = (
                f"{message[:3600].rstrip('.')}; the target was rolled back{dropped_text(dropped)}."
            )
        logger.warning("execution %s failed: %s", execution.pk, message)
        patiently(lambda: roll_back_tables(execution.pk, "failed"), what="recording a failure")
        if patiently(
            lambda: finish(
                execution.pk, ExecutionStatus.FAILED, rows_masked=0, error_message=message
            ),
            what="recording a failure",
        ):
            details = {
                "error": message,
                "error_type": type(exc).__name__,
                "duration_seconds": round(duration, 3),
                **({"dropped_tables": dropped} if dropped else {}),
            }
            patiently(
                lambda: audit_end(execution, "execution.fail", AuditEvent.Status.FAILURE, details),
                what="auditing a failure",
            )
        return patiently(lambda: reload(execution), what="reading the outcome")

    # The target has committed: from here on, the record must catch up with it.
    patiently(lambda: _record_success(execution, plan, result, tables), what="recording success")
    return patiently(lambda: reload(execution), what="reading the outcome")


def _record_success(execution: Execution, plan: Plan, result, tables: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    """Idempotent, so a retry after a lost app-database connection repeats it safely: the
    audit event is written only by the call whose UPDATE moved the execution to success."""
    report = build_report(execution, plan, result, list(result.created_tables))
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
    finished = finish(
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
        patiently(
            lambda: audit_end(
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
            ),
            what="auditing success",
        )
