"""PostgreSQL loads: one `COPY ... FROM STDIN` stream per table, fed batch by batch, in the
binary wire format (masking.dialects.pgbinary) or CSV."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pa_csv

from masking.dberrors import DatabaseRefused, database_error
from masking.dialects import common, pgbinary
from masking.dialects.background import BackgroundWriter
from masking.schema import TableInfo

if TYPE_CHECKING:
    from masking.dialects.postgresql import PostgreSQLDialect


class CopyStream:
    """One `COPY ... FROM STDIN` for one table, fed batch by batch.

    Binary format when every column has a binary encoder (masking.dialects.pgbinary) and the
    connection speaks UTF-8; CSV otherwise. With `threaded`, a writer thread encodes and sends
    while the caller masks the next batch (at most two batches wait), and the caller alone
    never touches the connection until finish() or abort() has joined that thread. Errors the
    server reports (constraint, type, length) arrive at a later write or when the stream
    closes; they name the row's ordinal in the stream (from the server's COPY context), never
    a value."""

    def __init__(
        self,
        dialect: PostgreSQLDialect,
        table: TableInfo,
        columns: Sequence[str],
        *,
        threaded: bool = False,
    ):
        from contextlib import ExitStack

        self.dialect, self.table = dialect, table
        self.columns = list(columns)
        self.cols = common.insertable(table, columns)
        infos = [table.column(c) for c in self.cols]
        self.encoders = (
            pgbinary.encoders_for([c for c in infos if c is not None]) if dialect._utf8() else None
        )
        target = dialect.qualified(table.schema, table.name)
        column_list = ", ".join(dialect.quote(c) for c in self.cols)
        fmt = "binary" if self.encoders else "csv"
        self._stack = ExitStack()
        self._writer: BackgroundWriter | None = None
        try:
            cur = self._stack.enter_context(dialect.connect().cursor())
            self.copy = self._stack.enter_context(
                cur.copy(f"COPY {target} ({column_list}) FROM STDIN WITH (FORMAT {fmt})")
            )
            if self.encoders:
                self.copy.write(pgbinary.SIGNATURE)
        except Exception as exc:
            self.abort()
            raise self._error(exc) from exc
        if threaded:
            self._writer = BackgroundWriter(
                self._send,
                label=f"table '{table.schema}.{table.name}'",
                wrap=self._error,
                name="maskflow-copy",
            )

    def serves(self, table: TableInfo, columns: Sequence[str]) -> bool:
        return (table.schema, table.name) == (self.table.schema, self.table.name) and list(
            columns
        ) == self.columns

    def _send(self, batch: pa.RecordBatch) -> None:
        selected = batch.select(self.cols)
        if self.encoders:
            data: Any = pgbinary.encode_batch(selected, self.encoders)
        else:
            data = _csv(_hex_binary(selected))
        self.copy.write(data)

    def write(self, batch: pa.RecordBatch) -> None:
        if self._writer is not None:
            self._writer.write(batch)
            return
        try:
            self._send(batch)
        except Exception as exc:
            raise self._error(exc) from exc

    def finish(self) -> None:
        try:
            if self._writer is not None:
                self._writer.finish()
            if self.encoders:
                self.copy.write(pgbinary.TRAILER)
            self._stack.close()
        except Exception as exc:
            self.abort()
            raise self._error(exc) from exc

    def abort(self) -> None:
        """Stop the writer, then end the COPY with an error so the connection can roll back;
        never raises."""
        if self._writer is not None:
            self._writer.abort()
        reason = RuntimeError("load aborted")
        try:
            self._stack.__exit__(RuntimeError, reason, None)
        except Exception:
            pass

    def _error(self, exc: BaseException) -> BaseException:
        import psycopg

        label = f"{self.table.schema}.{self.table.name}"
        if isinstance(exc, pgbinary.EncodeError):  # our own words: located, kept as they are
            return DatabaseRefused(
                f"table '{label}': COPY failed: rule 'type' ({exc})",
                rule="type",
                table=label,
                column="",
                code="",
            )
        if not isinstance(exc, psycopg.Error):
            return exc
        context = getattr(getattr(exc, "diag", None), "context", None) or ""
        line = re.search(r"\bline (\d+)", context)
        return database_error(
            exc,
            table=label,
            stage="COPY",
            columns=self.cols,
            row_key=f"row #{line.group(1)} of this load" if line else "",
        )


def _csv(batch: pa.RecordBatch) -> bytes:
    """The batch as PostgreSQL CSV, rendered in C++ by pyarrow.

    pyarrow writes NULL as an unquoted empty field and quotes every string, so an empty string
    stays `""`: exactly how COPY's CSV format tells the two apart."""
    sink = io.BytesIO()
    pa_csv.write_csv(batch, sink, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue()


def _hex_binary(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Binary columns as bytea hex input text (`\\x0a1b`), which pyarrow's CSV writer then
    quotes like any string; NULL stays NULL and empty bytes become `\\x`."""
    if not any(pa.types.is_binary(f.type) for f in batch.schema):
        return batch
    arrays = []
    for col in batch.columns:
        if pa.types.is_binary(col.type):
            col = pa.array(
                [None if v is None else "\\x" + v.hex() for v in col.to_pylist()], pa.string()
            )
        arrays.append(col)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)
