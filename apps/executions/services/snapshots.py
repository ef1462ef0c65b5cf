"""A run's source snapshot, held open while its units read it.

On PostgreSQL the units of a run split over workers read one snapshot of the source: the task
that plans the run exports it (`pg_export_snapshot()`) on a connection of its own and keeps that
connection's transaction open, in a thread of its worker process, until the run is no longer
running (or EXECUTION_SNAPSHOT_MAX_SECONDS have passed). Each unit then reads inside
`SET TRANSACTION SNAPSHOT`, so rows written to the source during the run reach no unit.

If the worker holding it stops, the snapshot goes with it: units not yet started fail to
import it and the run fails; a resume exports a new snapshot for the units it runs again, and
the execution's report says that those units read a later one."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import connection

from apps.executions.models import Execution, ExecutionStatus
from apps.executions.services.appdb import tolerantly
from masking import staged

logger = logging.getLogger("maskflow.executions")
POLL_SECONDS = 2.0


def snapshot_hold(execution_id: int, holder: staged.SnapshotHolder) -> threading.Thread:
    """Keep `holder` open in a thread of this process while the execution is running."""
    thread = threading.Thread(
        target=_keep,
        args=(execution_id, holder),
        name=f"maskflow-snapshot-{execution_id}",
        daemon=True,
    )
    thread.start()
    return thread


def _running(execution_id: int) -> bool:
    return Execution.objects.filter(pk=execution_id, status=ExecutionStatus.RUNNING).exists()


def _keep(execution_id: int, holder: staged.SnapshotHolder) -> None:
    deadline = time.monotonic() + float(getattr(settings, "EXECUTION_SNAPSHOT_MAX_SECONDS", 86400))
    try:
        while time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            # an app database out of reach for a moment ends nothing: keep holding
            if not tolerantly(
                lambda: _running(execution_id), what="checking a held snapshot", default=True
            ):
                break
    finally:
        try:
            holder.close()
        except Exception:  # the source went away first: the snapshot is gone either way
            logger.debug("execution %s: closing its snapshot failed", execution_id)
        connection.close()  # this thread's app-database connection


def snapshot_export(source) -> staged.SnapshotHolder | None:  # type: ignore[no-untyped-def]
    """A holder of a new snapshot of `source`, where its dialect can share one."""
    return staged.SnapshotHolder(source) if source.read_consistency == "snapshot" else None
