"""The engine's progress callback for a run: writes the execution row, reads the cancel flag."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.utils import timezone

from apps.executions.models import Execution, ExecutionStatus, ExecutionTable
from apps.executions.services.appdb import APP_DB_ERRORS, APP_DB_LOST, patiently, tolerantly
from masking import Cancelled, ProgressUpdate, TerminalError

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
        tolerantly(lambda: self._write(update), what="writing progress", default=None)
        if self.on_update is not None:
            self.on_update(update)

    def _write(self, update: ProgressUpdate) -> None:
        Execution.objects.filter(pk=self.execution_id, status=ExecutionStatus.RUNNING).update(
            rows_processed=update.rows_done,
            rows_total=update.rows_total,
            current_table=update.table[:300],
            rows_per_second=round(update.rows_per_s, 1),
            heartbeat_at=timezone.now(),
        )
        table_pk = self.tables.get(update.table)
        if table_pk is not None:
            status = "running" if update.phase in ("start", "load") else "done"
            ExecutionTable.objects.filter(pk=table_pk).update(
                position=update.table_index, status=status, rows_read=update.table_rows_done
            )

    def should_cancel(self) -> bool:
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline:
            self.timed_out = True
            return True
        if now - self._last_poll >= CANCEL_POLL_INTERVAL:
            self._last_poll = now
            # An unreachable app database cancels nothing: the run goes on, and proves it can
            # record its outcome before it commits (before_commit).
            self._cancel = tolerantly(
                self._read_cancel, what="reading the cancel flag", default=self._cancel
            )
            if now - self._last_write >= PROGRESS_INTERVAL:
                # Long batches with no progress call still prove the worker is alive.
                self._last_write = now
                tolerantly(self._heartbeat, what="writing the heartbeat", default=0)
        return self._cancel

    def _read_cancel(self) -> bool:
        row = (
            Execution.objects.filter(pk=self.execution_id)
            .values_list("cancel_requested", "status")
            .first()
        )
        return row is None or bool(row[0]) or row[1] != ExecutionStatus.RUNNING

    def _heartbeat(self, committing: bool = False) -> int:
        now = timezone.now()
        marks = {"commit_started_at": now} if committing else {}
        return Execution.objects.filter(
            pk=self.execution_id, status=ExecutionStatus.RUNNING
        ).update(heartbeat_at=now, **marks)

    def before_commit(self) -> None:
        """Called by the engine after verification, inside the target transaction: the commit
        goes ahead only if the app database can record it, and nobody cancelled meanwhile."""
        try:
            alive = patiently(
                lambda: self._heartbeat(committing=True), what="checking in before the commit"
            )
            cancelled = patiently(self._read_cancel, what="reading the cancel flag")
        except APP_DB_ERRORS:
            raise TerminalError(APP_DB_LOST) from None
        if alive != 1 or cancelled:
            self._cancel = True
            raise Cancelled("")
