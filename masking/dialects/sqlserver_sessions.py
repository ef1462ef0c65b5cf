"""SQL Server: the run's bulk-copy sessions (mssql-python's native TDS core, see
sqlserver_bulk.py), opened once per dialect and shared by every table of the run.

The first session sets up every table's staging and copies its rows; the column layout adds a
second, so that two column tables fill at once (sqlserver_load.StagedLoad). A TDS login takes
a moment (about 0.45 s on the stand-in, up to a second over TLS), and opened when first
needed both logins would sit on the run's critical path: the first as the first table's load
begins, the second in the middle of that table's first flush, while masking waits.
open_ahead logs both in on a thread of their own instead, while the run reads the catalogs
and counts the source's rows; a session not yet open when it is needed is waited for, and a
login that failed there is raised where the session is asked for, as it would have been
without opening ahead."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from masking.dialects.sqlserver_bulk import close_quietly, describes_all_columns

# the first session, whether its server needs the column layout, the second session (column
# layout only) or why it could not open
Opened = tuple[Any, bool, Any, BaseException | None]


class BulkSessions:
    def __init__(self, open_session: Callable[[], Any]):
        self._open = open_session
        self._ahead: Future[Opened] | None = None
        self._first: Any = None
        self.joined: bool | None = None  # the column layout (see describes_all_columns)
        self._second: Any = None
        self._second_failed: BaseException | None = None

    def open_ahead(self) -> None:
        """Start logging in the sessions on a thread; returns at once, never raises."""
        if self._first is not None or self._ahead is not None:
            return
        future: Future[Opened] = Future()

        def work() -> None:
            try:
                future.set_result(self._open_all())
            except BaseException as exc:  # noqa: BLE001 - raised by first()
                future.set_exception(exc)

        threading.Thread(target=work, name="maskflow-login", daemon=True).start()
        self._ahead = future

    def first(self) -> Any:
        """The first session: opened ahead (waited for), or now."""
        if self._first is None:
            ahead, self._ahead = self._ahead, None
            if ahead is not None:
                self._first, self.joined, self._second, self._second_failed = ahead.result()
            else:
                self._first, self.joined = self._open_first()
        return self._first

    def second(self) -> Any:
        """The column layout's second session: opened ahead, or now. A login that failed
        ahead is raised here once; a later call tries again."""
        if self._second is None:
            failed, self._second_failed = self._second_failed, None
            if failed is not None:
                raise failed
            self._second = self._open()
        return self._second

    def close(self) -> None:
        """Close what is open; sessions still logging in are closed once they are."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.add_done_callback(_close_opened)
        for conn in (self._first, self._second):
            if conn is not None:
                close_quietly(conn)
        self._first = self._second = self._second_failed = None
        self.joined = None

    def _open_first(self) -> tuple[Any, bool]:
        conn = self._open()
        try:
            return conn, not describes_all_columns(conn)
        except BaseException:
            close_quietly(conn)
            raise

    def _open_all(self) -> Opened:
        conn, joined = self._open_first()
        if not joined:
            return conn, joined, None, None
        try:
            return conn, joined, self._open(), None
        except Exception as exc:  # noqa: BLE001 - the first session copies every column
            return conn, joined, None, exc


def _close_opened(future: Future[Opened]) -> None:
    if future.exception() is None:
        first, _, second, _ = future.result()
        for conn in (first, second):
            if conn is not None:
                close_quietly(conn)
