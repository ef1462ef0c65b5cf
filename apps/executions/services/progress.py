"""The engine's progress callback for a run: writes the execution row, reads the cancel flag."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.utils import timezone

from apps.executions.models import Execution, ExecutionStatus, ExecutionTable
from masking import ProgressUpdate

PROGRESS_INTERVAL = 1.0  # seconds between progress writes
CANCEL_POLL_INTERVAL = 0.5  # seconds between reads of cancel_requested


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
