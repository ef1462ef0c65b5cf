"""A writer thread that loads one batch while the caller reads and masks the next.

Drivers release the GIL while the server (or SQLite's engine) works, so sending batch N in a
thread overlaps with extracting and masking batch N+1. At most `depth` batches wait, so memory
stays bounded by the batch size. While a writer runs, only its thread touches the connection:
the caller must call finish() or abort() before using the connection again."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from masking.errors import TerminalError


class BackgroundWriter:
    """Feeds `send` from a thread, an item at a time, or with `stream` once, with an iterator
    of the items that ends at finish() (or abort()). A failure in the thread surfaces, through
    `wrap`, at the caller's next write() or at finish(); after that the writer accepts nothing
    more."""

    _END = object()

    def __init__(
        self,
        send: Callable[[Any], object],
        *,
        label: str,
        wrap: Callable[[BaseException], BaseException] = lambda exc: exc,
        depth: int = 2,
        name: str = "maskflow-load",
        stream: bool = False,
    ):
        self._send, self._label, self._wrap = send, label, wrap
        self._stream = stream
        self._failure: BaseException | None = None
        self._slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def _items(self) -> Iterator[Any]:
        while True:
            item = self._slots.get()
            if item is self._END or self._stop.is_set():
                return
            yield item

    def _work(self) -> None:
        try:
            if self._stream:
                self._send(self._items())
                return
            for item in self._items():
                self._send(item)
        except BaseException as exc:  # handed to the caller's next write or finish
            self._failure = exc

    def _check(self) -> None:
        if self._failure is None:
            return
        wrapped = self._wrap(self._failure)
        if wrapped is self._failure:
            raise wrapped
        raise wrapped from self._failure

    def _put(self, item: Any) -> None:
        while True:
            self._check()
            if not self._thread.is_alive():
                if item is self._END:
                    return
                raise TerminalError(f"{self._label}: the load stream stopped")
            try:
                self._slots.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def write(self, item: Any) -> None:
        """Queue one batch; blocks while `depth` batches already wait."""
        self._put(item)

    def finish(self) -> None:
        """Wait until every queued batch is sent; raise the thread's failure if any."""
        self._put(self._END)
        self._thread.join()
        self._check()

    def abort(self) -> None:
        """Drop what waits and stop the thread once its current batch is done; never raises."""
        if not self._thread.is_alive():
            return
        self._stop.set()
        try:
            while True:
                self._slots.get_nowait()
        except queue.Empty:
            pass
        try:
            self._slots.put(self._END, timeout=1)
        except queue.Full:
            pass
        self._thread.join()
