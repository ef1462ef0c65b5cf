"""Resume a staged run that failed, was cancelled or lost its worker, and drop the staging of
runs nobody resumed.

Units whose staged rows are committed (the ledger in the target says so) are kept when the plan
hash and the key version are unchanged; the others run again. Staging that is gone (a failure
or a cancel drops it) means every unit runs again."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.executions.models import Execution, ExecutionStatus, ExecutionUnit, UnitStatus
from apps.executions.services.permissions import can_cancel
from apps.executions.services.snapshots import snapshot_export, snapshot_hold
from apps.executions.services.units import _dialects, _fail, _load, _plan, create_targets
from masking import staged, staging_tables

logger = logging.getLogger("maskflow.executions")
RESUMABLE = (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)


class ResumeRefused(Exception):
    pass


def can_resume(execution: Execution) -> bool:
    """A run lost while it committed is not: its publish may have gone through."""
    return (
        execution.status in RESUMABLE
        and bool(execution.layout)
        and execution.commit_started_at is None
    )


def execution_resume(*, execution: Execution, by, request=None, enqueue: bool = False) -> Execution:
    """Put a failed or cancelled staged run back to running; with `enqueue`, its units are
    queued for the workers once the transaction commits."""
    if not can_cancel(by, execution):  # who may stop a run may also restart it
        raise PermissionDenied(
            "Only the user who started the execution or an administrator can resume it."
        )
    if execution.commit_started_at is not None:
        raise ResumeRefused(
            "This run's worker was lost while it committed, so the target may already hold its "
            "copy: check the target, then start a new run."
        )
    if not can_resume(execution):
        raise ResumeRefused("Only a failed or cancelled run split into units can be resumed.")
    if execution.workflow.key_version != execution.key_version:
        raise ResumeRefused("The workflow's key changed since this run: start a new run.")
    claimed = Execution.objects.filter(
        pk=execution.pk, status__in=RESUMABLE, commit_started_at__isnull=True
    ).update(
        status=ExecutionStatus.RUNNING,
        cancel_requested=False,
        error_message="",
        finished_at=None,
        heartbeat_at=timezone.now(),
    )
    if claimed != 1:
        raise ResumeRefused("The run changed meanwhile; reload it.")
    audit_record(
        action="execution.resume",
        request=request,
        actor=by,
        resource_type="execution",
        resource_id=execution.pk,
        details={"workflow_id": execution.workflow_id, "plan_hash": execution.plan_hash},
    )
    execution.refresh_from_db()
    if enqueue:
        pk = execution.pk
        transaction.on_commit(lambda: _enqueue(pk))
    return execution


def _enqueue(execution_id: int) -> None:
    from apps.executions.tasks import resume_units  # the tasks module imports this one

    resume_units.delay(execution_id)


def unit_resume(*, execution_id: int) -> list[list[int]]:
    """The indexes of the units to run again, per level; staging re-created if it is gone."""
    execution = _load(execution_id)
    if execution.status != ExecutionStatus.RUNNING:
        return []
    layout = staged.Layout.from_dict(execution.layout)
    try:
        plan = _plan(execution)
        if not layout.matches(plan):
            raise ResumeRefused("the plan or key of this run changed")
        source, target = _dialects(execution)
        try:
            if staging_tables(target, layout.schema, layout.run_id):
                pending = {u.index for u in staged.pending_units(layout, target)}
            else:
                fresh = _prepare_again(plan, source, target, layout, execution)
                layout, pending = fresh, {u.index for u in fresh.units}
            # The first try's snapshot ended with it: the units run again read a new one.
            holder = snapshot_export(source)
            layout = replace(
                layout,
                snapshot=holder.token if holder else None,
                read_consistency="snapshot" if holder else layout.read_consistency,
            )
        finally:
            source.close()
            target.close()
        if holder is not None:
            snapshot_hold(execution_id, holder)
    except Exception as exc:
        _fail(execution, exc, layout=None)
        return []
    units = ExecutionUnit.objects.filter(execution_id=execution_id)
    units.filter(index__in=pending).update(status=UnitStatus.WAITING, rows=0, worker="")
    units.exclude(index__in=pending).update(status=UnitStatus.DONE)
    done_rows = sum(units.exclude(index__in=pending).values_list("rows", flat=True))
    report = dict(execution.report or {})
    report["units_rerun"] = len(pending)
    if layout.snapshot and pending and len(pending) < len(layout.units):
        report["resumed_snapshot"] = (
            "the units run again read a later snapshot of the source than the units kept"
        )
    Execution.objects.filter(pk=execution_id).update(
        layout=layout.to_dict(), rows_processed=done_rows, report=report
    )
    return [[u.index for u in level if u.index in pending] for level in layout.levels()]


def _prepare_again(plan, source, target, layout: staged.Layout, execution) -> staged.Layout:  # type: ignore[no-untyped-def]
    """The same units again (same bounds, same numbers), on new staging tables."""
    fresh = staged.prepare(
        plan,
        source,
        target,
        layout.run_id,
        unit_rows=10**12,
        create_targets=create_targets(execution),
    )
    # prepare() planned whole tables; the run keeps the units it started with.
    return staged.Layout(
        layout.run_id,
        fresh.schema,
        layout.plan_hash,
        layout.key_version,
        layout.units,
        fresh.stages,
        layout.totals,
        None,
        fresh.read_consistency,
        created_tables=fresh.created_tables,
    )


def staging_reap(*, older_than_seconds: int | None = None) -> list[int]:
    """Drop the staging of failed or cancelled runs nobody resumed in time (audited)."""
    keep = older_than_seconds
    if keep is None:
        keep = settings.EXECUTION_STAGING_KEEP_SECONDS
    cutoff = timezone.now() - timedelta(seconds=keep)
    dropped = []
    # and that of runs that published but could not drop it then (report "staging_left")
    left = Q(status__in=RESUMABLE) | Q(status=ExecutionStatus.SUCCESS, report__staging_left=True)
    old = Execution.objects.filter(left, finished_at__lt=cutoff).exclude(layout={})
    for execution in old.select_related("workflow__target_connection", "executed_by"):
        layout = staged.Layout.from_dict(execution.layout)
        try:
            _, target = _dialects(execution)
            try:
                names = staging_tables(target, layout.schema, layout.run_id)
                # a published run's created tables hold its copy: only the staging goes
                staged.discard(
                    layout, target, published=execution.status == ExecutionStatus.SUCCESS
                )
            finally:
                target.close()
        except Exception:
            logger.warning("execution %s: staging not dropped yet", execution.pk)
            continue
        Execution.objects.filter(pk=execution.pk).update(layout={})
        if names:
            dropped.append(execution.pk)
            audit_record(
                action="execution.staging_dropped",
                status=AuditEvent.Status.SUCCESS,
                actor=None,
                resource_type="execution",
                resource_id=execution.pk,
                details={"tables": len(names), "kept_seconds": keep},
            )
    return dropped
