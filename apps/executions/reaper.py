"""Every Celery worker reaps on its own schedule, in a thread of its main process.

Celery beat is optional in a deployment (`-B` or a `celery beat` process) and the reaper must
not depend on it: a run whose worker was killed would stay `running`, and re-runs would be
refused, until someone opened an executions page. Reaping is one conditional UPDATE per stale
run, so several workers reaping at once is harmless."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections

from apps.executions.services import execution_reap

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_running: tuple[threading.Thread, threading.Event] | None = None


def _loop(stop: threading.Event, every: float) -> None:
    while True:
        close_old_connections()
        try:
            execution_reap()
        except Exception:  # a locked or unreachable app database: try again next time
            logger.exception("execution reaper failed")
        finally:
            close_old_connections()
        if stop.wait(every):
            return


def reaper_start(**_: object) -> None:
    """Start this process's reaper thread (once); connected to Celery's worker_ready."""
    global _running
    with _lock:
        if _running is not None:
            return
        stop = threading.Event()
        every = float(getattr(settings, "EXECUTION_REAP_SECONDS", 30))
        thread = threading.Thread(
            target=_loop, args=(stop, every), name="maskflow-reaper", daemon=True
        )
        thread.start()
        _running = (thread, stop)


def reaper_stop(**_: object) -> None:
    """Stop the thread; connected to Celery's worker_shutdown."""
    global _running
    with _lock:
        if _running is None:
            return
        thread, stop = _running
        _running = None
    stop.set()
    thread.join(timeout=10)
