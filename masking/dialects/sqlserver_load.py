"""SQL Server loads through staging (the statements and layouts: sqlserver_bulk.py).

Rows are buffered up to FLUSH_ROWS at a time. In the `table` layout a writer thread sends
the first flush in a bulk copy of its own (an Arrow type the driver refuses falls back to
tuples there), then every later one in a single streaming bulk copy, while the next rows are
masked; memory holds at most three flushes (buffered, waiting, in flight). The `columns`
layout has one staging table per column, and a session copies into one table at a time:
while the rows are read, each session (the auxiliary one, and a second when given) streams
one column into its table; every flush also goes to an Arrow file in a private temporary
folder (masked rows only, removed when the load ends), from which end_load copies the other
columns, taken in turn by the sessions, so the server fills and indexes two tables at once.
On the stand-in, for a 1,000,000-row, 12-column table: the copies after the read took 14.9 s
one at a time, 10.0 s two at a time (three or four sessions were no faster on 2 cores), and
6.8 s with two columns already copied during the read, which took 1.4 s longer.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import pyarrow as pa

from masking import offsets
from masking.dialects import sqlserver_sql as q
from masking.dialects.background import BackgroundWriter
from masking.dialects.sqlserver_bulk import (
    OPTIONS,
    close_quietly,
    column_stage_create,
    column_stage_index,
    core_execute,
    drop_stage,
    is_arrow_type_error,
    move_rows,
    stage_batch,
    stage_names,
    staged_column,
    table_stage_create,
    tuple_rows,
)
from masking.schema import ColumnInfo, TableInfo, TypeCategory

log = logging.getLogger(__name__)

FLUSH_ROWS = 100_000


def bulk_copy(
    conn: Any, name: str, data: pa.Table, natives: Sequence[str], timeout: int, arrow: bool
) -> bool:
    """Copy `data` into the staging table `name`; returns whether the Arrow path is still
    usable (False after it refused a type and the rows went as tuples). Other errors raise."""
    cur = conn.cursor()
    mapping = list(data.column_names)
    try:
        if arrow:
            try:
                cur.bulkcopy_arrow(name, data, timeout=timeout, column_mappings=mapping, **OPTIONS)
                return True
            except Exception as exc:  # noqa: BLE001 - only type refusals are retried
                if not is_arrow_type_error(exc):
                    raise
        # A refused bulk load is one statement, rolled back: nothing of it is in the table.
        rows = tuple_rows(data, natives)
        cur.bulkcopy(name, iter(rows), timeout=timeout, column_mappings=mapping, **OPTIONS)
        return False
    finally:
        close_quietly(cur)


def copy_flushes(
    conn: Any,
    name: str,
    natives: Sequence[str],
    flushes: Iterator[pa.Table],
    timeout: int,
    arrow: bool,
) -> bool:
    """Bulk copy `flushes` into `name`: the first alone, so that an Arrow type the driver
    refuses falls back to tuples (flush by flush) before anything streams, then the rest in
    one bulk copy. Each bulk copy costs a round of setup on the server, and some servers (the
    stand-in) take longer for each one the fuller the table already is. Returns whether the
    Arrow path is still usable."""
    first = next(flushes, None)
    if first is None:
        return arrow
    arrow = bulk_copy(conn, name, first, natives, timeout, arrow)
    second = next(flushes, None)
    if second is None:
        return arrow
    rest = itertools.chain([second], flushes)
    if arrow:
        stream_copy(conn, name, first.column_names, rest, timeout)
        return True
    for data in rest:
        bulk_copy(conn, name, data, natives, timeout, False)
    return False


def stream_copy(
    conn: Any, name: str, columns: Sequence[str], tables: Iterable[pa.Table], timeout: int
) -> None:
    """One bulk copy of every batch of `tables`, consumed as the driver sends them."""
    cur = conn.cursor()
    batches = (b for t in tables for b in t.to_batches())
    try:
        cur.bulkcopy_arrow(name, batches, timeout=timeout, column_mappings=list(columns), **OPTIONS)
    finally:
        close_quietly(cur)


def take_in_turn(
    sessions: Sequence[Any], todo: Iterable[int], copy: Callable[[Any, int], None]
) -> None:
    """Run `copy(session, i)` for each `i` of `todo`, the sessions taking them in turn, each on
    a thread of its own (the first on this one), so as many copies run at once as there are
    sessions. A failure stops every session from taking another; the first is raised once all
    have stopped."""
    pending = iter(todo)
    lock = threading.Lock()
    failed: list[BaseException] = []

    def work(session: Any) -> None:
        while not failed:
            with lock:
                i = next(pending, None)
            if i is None:
                return
            try:
                copy(session, i)
            except BaseException as exc:  # noqa: BLE001 - raised by take_in_turn
                failed.append(exc)

    helpers = [
        threading.Thread(target=work, args=(s,), name="maskflow-bulk", daemon=True)
        for s in sessions[1:]
    ]
    for t in helpers:
        t.start()
    try:
        work(sessions[0])
    finally:
        for t in helpers:
            t.join()
    if failed:
        raise failed[0]


class StagedLoad:
    """One table's rows on their way through staging: buffered, flushed by bulk copy, moved
    by end_load. Creating it creates the staging table(s) on `conn`."""

    def __init__(
        self,
        conn: Any,
        table: TableInfo,
        columns: Sequence[str],
        token: str,
        *,
        joined: bool,
        timeout: int,
        flush_rows: int | None = None,
        second: Callable[[], Any] | None = None,
    ):
        """`second`: opens (or returns) another session of the same login, on which the
        column layout copies half of the columns beside `conn`; None copies them all on
        `conn`."""
        self.conn, self.table, self.columns = conn, table, list(columns)
        self._second = second
        self.joined, self.timeout = joined, timeout
        self.flush_rows = FLUSH_ROWS if flush_rows is None else flush_rows
        infos = [c for n in self.columns if (c := table.column(n)) is not None]
        self.natives = [c.native_type.lower().strip() for c in infos]
        # per-row offsets of datetimeoffset columns, staged as smallint after the columns
        self.offsets = [
            (i, f"maskflow_offset_{i}") for i, n in enumerate(self.natives) if n == "datetimeoffset"
        ]
        shifts = [ColumnInfo(n, "smallint", TypeCategory.NUMERIC) for _, n in self.offsets]
        self.natives += ["smallint"] * len(shifts)
        staged = infos + shifts
        self.names = stage_names(token, len(staged) if joined else None)
        self.arrow = True  # written by the writer thread only, until finish()
        self._writer: BackgroundWriter | None = None
        # the column layout's spool: folder, file path, file, Arrow stream writer
        self._spool: tuple[str, str, Any, Any] | None = None
        self._spool_schema: pa.Schema | None = None
        # the column layout's live copies: column index -> the stream copying it while the
        # rows are read; sessions: `conn`, and the second one once opened
        self._live: dict[int, BackgroundWriter] = {}
        self._copied_live: set[int] = set()  # the columns the live copies took
        self._sessions: list[Any] | None = None
        self._refused: list[int] = []  # columns whose Arrow copy fell back to tuples
        self._discarding = False
        self.created: list[str] = []
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        for i, name in enumerate(self.names):
            self.created.append(name)
            if joined:
                core_execute(conn, column_stage_create(table.schema, name, staged[i]))
            else:
                offset_names = [c.name for c in shifts]
                core_execute(conn, table_stage_create(table, infos, name, offset_names))

    @property
    def path(self) -> str:
        return "bulk copy, one staging table per column" if self.joined else "bulk copy"

    def add(self, batch: pa.RecordBatch) -> None:
        data = stage_batch(batch, self.columns, self.natives)
        found = offsets.companions(batch) if self.offsets else {}
        for i, name in self.offsets:
            values = found.get(self.columns[i])
            if values is None:
                values = pa.nulls(batch.num_rows, offsets.TYPE)
            data = data.append_column(pa.field(name, offsets.TYPE), [values])
        self._pending.append(data)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        """Hand what is buffered on: to the table layout's bulk copy, on the writer thread (at
        most one more flush waits), so masking the next rows overlaps the copy (the driver
        releases the GIL); to the spool file in the column layout."""
        if not self._pending:
            return
        data = pa.concat_tables(self._pending)
        self._pending, self._pending_rows = [], 0
        if self.joined:
            self._spool_write(data)
            self._feed_live(data)
            return
        if self._writer is None:
            self._writer = BackgroundWriter(
                self._stream,
                label=f"table '{self.table.schema}.{self.table.name}'",
                depth=1,
                name="maskflow-bulk",
                stream=True,
            )
        self._writer.write(data)

    def finish(self) -> None:
        """Flush, and wait until every row is in staging; a copy's error is raised here."""
        self.flush()
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.finish()
        if self._spool is not None:
            try:
                self._finish_live()
                self._copy_spool()
            finally:
                self._close_spool()

    def _stream(self, flushes: Iterator[pa.Table]) -> None:
        """The writer thread: every flush of the table layout (see copy_flushes)."""
        name = q.qualified(self.table.schema, self.names[0])
        self.arrow = copy_flushes(self.conn, name, self.natives, flushes, self.timeout, self.arrow)

    # -- the column layout: rows spooled to a local file, then one bulk copy per column ------
    def _spool_write(self, data: pa.Table) -> None:
        if self._spool is None:
            folder = tempfile.mkdtemp(prefix="maskflow-bulk-")  # private to this user
            path = os.path.join(folder, "rows.arrows")
            sink = pa.OSFile(path, "wb")
            self._spool = (folder, path, sink, pa.ipc.new_stream(sink, data.schema))
        schema = self._spool_schema
        if schema is None:
            self._spool_schema = schema = data.schema
        elif data.schema != schema:  # e.g. a column all NULL in this flush
            data = data.cast(schema)
        self._spool[3].write_table(data)

    def _spooled(self, i: int) -> Iterator[pa.Table]:
        """Column `i` of the spooled rows, a flush at a time, as its staging table takes it."""
        assert self._spool is not None
        with pa.memory_map(self._spool[1]) as f:
            for b in pa.ipc.open_stream(f):
                yield staged_column(b.column(i), self.natives[i])

    def _open_sessions(self) -> list[Any]:
        """`conn`, and the second session when one is given and opens (once)."""
        if self._sessions is None:
            self._sessions = [self.conn]
            if self._second is not None and len(self.names) > 1:
                try:
                    self._sessions.append(self._second())
                except Exception as exc:  # noqa: BLE001 - one session still copies everything
                    name = type(exc).__name__
                    log.warning("a second bulk-copy session could not open (%s)", name)
        return self._sessions

    def _feed_live(self, data: pa.Table) -> None:
        """Hand this flush to the live copies: at the first flush, each session starts a bulk
        copy of one column of its own, fed flush by flush while the rows are read (their
        tables are filled by the time the rest are copied from the spool)."""
        if not self._live:
            for i, conn in enumerate(self._open_sessions()):
                self._live[i] = BackgroundWriter(
                    functools.partial(self._copy_column, conn, i),
                    label=f"table '{self.table.schema}.{self.table.name}'",
                    depth=1,
                    name="maskflow-bulk",
                    stream=True,
                )
            self._copied_live = set(self._live)
        for i, writer in self._live.items():
            writer.write(staged_column(data.column(i), self.natives[i]))

    def _finish_live(self) -> None:
        """Wait for the live copies to end; the first failure is raised once all have."""
        live, self._live = list(self._live.values()), {}
        failures = []
        for writer in live:
            try:
                writer.finish()
            except BaseException as exc:  # noqa: BLE001 - raised below, after the others
                failures.append(exc)
        if failures:
            raise failures[0]

    def _copy_spool(self) -> None:
        """Copy each column the live copies did not take into its table and index it, the
        sessions taking them in turn (see take_in_turn), so two tables fill at once."""
        assert self._spool is not None
        self._spool[3].close()
        self._spool[2].close()
        todo = [i for i in range(len(self.names)) if i not in self._copied_live]
        try:
            take_in_turn(
                self._open_sessions(),
                todo,
                lambda conn, i: self._copy_column(conn, i, self._spooled(i)),
            )
        finally:
            self.arrow = self.arrow and not self._refused

    def _copy_column(self, conn: Any, i: int, flushes: Iterator[pa.Table]) -> None:
        """Bulk copy `flushes` of column `i` into its table, then index it on rn."""
        name = self.names[i]
        target, natives = q.qualified(self.table.schema, name), self.natives[i : i + 1]
        if not copy_flushes(conn, target, natives, flushes, self.timeout, self.arrow):
            self._refused.append(i)
        if not self._discarding:  # a live copy that discard stopped: its table is dropped
            core_execute(conn, column_stage_index(self.table.schema, name))

    def _close_spool(self) -> None:
        if self._spool is None:
            return
        folder, _, sink, writer = self._spool
        self._spool = None
        for part in (writer, sink):
            close_quietly(part)
        shutil.rmtree(folder, ignore_errors=True)

    def move_statement(self) -> str:
        return move_rows(self.table, self.columns, self.names, self.joined, self.offsets)

    def drop_statements(self) -> list[str]:
        return [drop_stage(self.table.schema, n) for n in self.created]

    def discard(self) -> None:
        """Stop the writer thread, then drop the staging tables on the auxiliary connection;
        never raises."""
        self._pending = []
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.abort()
        live, self._live = list(self._live.values()), {}
        self._discarding = True
        for writer in live:
            writer.abort()
        self._close_spool()
        for sql in self.drop_statements():
            try:
                core_execute(self.conn, sql)
            except Exception:  # noqa: BLE001 - the caller's error is the one to report
                pass
