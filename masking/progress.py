"""How a run reports progress and learns it should stop, without knowing who listens.

The Celery task passes an implementation that writes the execution row; the CLI and the
benchmarks use the no-op default. Callbacks are throttled by the pipeline (about once a
second, plus table boundaries), so implementations may do a database write per call."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class ProgressUpdate:
    table: str  # the target table being loaded
    table_index: int  # 1-based position in load order
    table_count: int
    table_rows_done: int
    table_rows_total: int | None  # rows the source filter selects, when known
    rows_done: int  # across the run
    rows_total: int | None
    rows_per_s: float
    elapsed: float
    phase: str = "load"  # "start", "load", "table_done", "verify"

    @property
    def percent(self) -> float | None:
        if not self.rows_total:
            return None
        return min(100.0, 100.0 * self.rows_done / self.rows_total)


@runtime_checkable
class Progress(Protocol):
    def update(self, update: ProgressUpdate) -> None:
        """Called at most about once a second, and at every table start and end."""

    def should_cancel(self) -> bool:
        """Polled between batches; True makes the run roll back and raise Cancelled."""


def before_commit(progress: object) -> None:
    """A Progress may also define `before_commit()`: called once, inside the target transaction,
    after every check passed and just before the commit. Raising there rolls the run back (the
    app records the outcome: if it cannot, nothing should be committed that it cannot report)."""
    hook = getattr(progress, "before_commit", None)
    if callable(hook):
        hook()


class NullProgress:
    """The default: nobody listens, nothing cancels."""

    def update(self, update: ProgressUpdate) -> None:
        return None

    def should_cancel(self) -> bool:
        return False


class Throttle:
    """Lets a call through when `interval` seconds have passed since the last one."""

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self._last = float("-inf")

    def ready(self, force: bool = False) -> bool:
        now = time.monotonic()
        if force or now - self._last >= self.interval:
            self._last = now
            return True
        return False
