"""How a run ends: its final status, value-free messages, the report and the audit event."""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from apps.audit.services import audit_record
from apps.core.logging import redact_text
from apps.executions.models import Execution, ExecutionStatus, ExecutionTable
from apps.executions.signals import execution_ended
from masking import MaskingError

logger = logging.getLogger("maskflow.executions")

WORKER_LOST = (
    "The worker running this execution stopped responding (worker lost, or its task messages "
    "lost with the broker); the target was rolled back."
)
WORKER_LOST_COMMITTING = (
    "The worker running this execution stopped responding while it committed to the target, "
    "so the target may hold this run's masked copy or be as it was. Check the target before "
    "relying on it, and start a new run rather than resuming this one."
)
NEVER_STARTED = (
    "No worker started this execution (its task message was lost, or no worker serves the "
    "queue); the target was not touched. Start it again."
)
UNEXPECTED = "The run failed unexpectedly ({name}); the target was rolled back. See the worker log."


def safe_message(exc: BaseException) -> str:
    """Engine errors name tables/columns/rules, never values; anything else gets a generic text."""

    if isinstance(exc, MaskingError):
        return redact_text(str(exc))[:4000]
    # A driver's or library's own text may quote data: only the class name is kept.
    return UNEXPECTED.format(name=type(exc).__name__)


def finish(execution_id: int, status: str, **fields: Any) -> bool:
    """Move a running execution to a final status; False if someone (the reaper) got there first.
    A run that did not succeed did not commit: its commit mark goes."""
    if status != ExecutionStatus.SUCCESS:
        fields.setdefault("commit_started_at", None)
    return (
        Execution.objects.filter(pk=execution_id, status=ExecutionStatus.RUNNING).update(
            status=status, finished_at=timezone.now(), heartbeat_at=timezone.now(), **fields
        )
        == 1
    )


def build_report(execution: Execution, plan, result, created: list[str]) -> dict:
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
        # Rows the subset kept per table, beside the rows the source holds.
        "subset": [
            {"table": c.table, "kept": c.kept, "total": c.total, "in_subset": c.in_subset}
            for c in getattr(result, "subset", ())
        ],
        "leak_ok": all(c.ok for c in result.leak_report),
        "fk_ok": result.fk_ok,
        # The source's relationships the copy breaks where the target has no foreign key.
        "broken_links": [
            {"table": b.table, "columns": b.columns, "parent": b.parent, "rows": b.rows}
            for b in getattr(result, "broken_links", ())
        ],
    }


def roll_back_tables(execution_id: int, status: str) -> None:
    """After a rollback nothing of the run is in the target, including tables that had finished."""
    tables = ExecutionTable.objects.filter(execution_id=execution_id)
    tables.filter(status="running").update(status=status)
    tables.filter(status="done").update(status="rolled_back")
    tables.update(rows_written=0, rows_masked=0)


def reload(execution: Execution) -> Execution:
    execution.refresh_from_db()
    return execution


def audit_end(execution: Execution, action: str, status: str, details: dict) -> None:
    """Audit a run's end, then tell whoever listens (notifications) that it ended."""
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
    for receiver, error in execution_ended.send_robust(Execution, execution_id=execution.pk):
        if isinstance(error, Exception):
            logger.warning(
                "execution %s: %s failed (%s)", execution.pk, receiver, type(error).__name__
            )


def table_label(schema: str, table: str) -> str:
    return f"{schema}.{table}" if schema else table


def dropped_text(dropped: list[str]) -> str:
    return f" and the tables it created were dropped: {', '.join(dropped)}" if dropped else ""
