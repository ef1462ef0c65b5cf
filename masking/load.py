"""Load stage: clear, write and finish target tables, turning driver errors into engine errors.

Every call happens inside the run's single target transaction (opened by the pipeline), so a
failure anywhere leaves the target as it was."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from masking.dialects.base import Dialect
from masking.errors import (
    ConnectionFailed,
    MaskingError,
    TerminalError,
    TransientError,
    scrub_message,
)
from masking.schema import TableInfo

# SQLSTATEs (PostgreSQL, SQL Server via ODBC) and MySQL error numbers where a retry may work:
# serialization failure, deadlock, lock timeout, connection lost, server shutting down.
_TRANSIENT_SQLSTATES = frozenset(
    {
        "40001",
        "40P01",
        "55P03",
        "57P01",
        "57P02",
        "57P03",
        "53300",
        "08000",
        "08001",
        "08003",
        "08004",
        "08006",
        "08S01",
        "HYT00",
    }
)
_TRANSIENT_MYSQL = frozenset({1205, 1213, 2002, 2003, 2006, 2013, 2055})
_TRANSIENT_WORDS = (
    "database is locked",
    "database table is locked",
    "deadlock",
    "connection reset",
    "server closed the connection",
    "lost connection",
)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, ConnectionFailed):
        return exc.category == "unreachable"
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
    sqlstate = getattr(exc, "sqlstate", None) or getattr(
        getattr(exc, "diag", None), "sqlstate", None
    )
    if sqlstate and sqlstate in _TRANSIENT_SQLSTATES:
        return True
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int) and args[0] in _TRANSIENT_MYSQL:
        return True
    if args and isinstance(args[0], str) and args[0] in _TRANSIENT_SQLSTATES:  # pyodbc
        return True
    text = str(exc).lower()
    return any(w in text for w in _TRANSIENT_WORDS)


def wrap_error(exc: BaseException, *, table: str, stage: str, column: str = "") -> MaskingError:
    """An engine error naming where it happened, with any value-bearing text removed."""
    if isinstance(exc, MaskingError) and not isinstance(exc, ConnectionFailed):
        return exc
    where = f"table '{table}'" + (f", column '{column}'" if column else "")
    detail = (
        scrub_message(str(exc))
        if not isinstance(exc, ConnectionFailed)
        else (f"{exc.category}: {scrub_message(exc.message)}")
    )
    text = f"{where}: {stage} failed: {type(exc).__name__}" + (f": {detail}" if detail else "")
    return TransientError(text) if is_transient(exc) else TerminalError(text)


def clear_tables(target: Dialect, tables: Sequence[tuple[str, TableInfo]]) -> None:
    """Empty the tables, in the order given (children before parents)."""
    for label, info in tables:
        try:
            target.clear_table(info)
        except Exception as exc:
            raise wrap_error(exc, table=label, stage="truncate") from exc


def count_target_rows(target: Dialect, label: str, info: TableInfo) -> int:
    try:
        return target.count_rows(info)
    except Exception as exc:
        raise wrap_error(exc, table=label, stage="count") from exc


class TableLoader:
    """begin_load / write_batch / end_load for one target table, errors wrapped."""

    def __init__(self, target: Dialect, label: str, info: TableInfo, columns: Sequence[str]):
        self.target = target
        self.label = label
        self.info = info
        self.columns = list(columns)
        self.rows_written = 0

    def __enter__(self) -> TableLoader:
        try:
            self.target.begin_load(self.info, self.columns)
        except Exception as exc:
            raise wrap_error(exc, table=self.label, stage="begin load") from exc
        return self

    def write(self, batch: pa.RecordBatch, batch_no: int) -> int:
        try:
            written = self.target.write_batch(self.info, self.columns, batch)
        except Exception as exc:
            raise wrap_error(exc, table=self.label, stage=f"write (batch {batch_no})") from exc
        self.rows_written += written
        return written

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            # The transaction is rolling back: only release what the load holds open.
            try:
                self.target.abort_load(self.info, self.columns)
            except Exception:  # the original error is the one worth reporting
                pass
            return
        try:
            self.target.end_load(self.info, self.columns)
        except Exception as err:
            raise wrap_error(err, table=self.label, stage="end load") from err
