"""Load stage: clear, write and finish target tables, turning driver errors into engine errors.

Every call happens inside the run's single target transaction (opened by the pipeline), so a
failure anywhere leaves the target as it was."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from masking import offsets
from masking.dberrors import database_error
from masking.dialects.base import Dialect
from masking.errors import MaskingError
from masking.schema import TableInfo


def wrap_error(
    exc: BaseException, *, table: str, stage: str, column: str = "", columns: Sequence[str] = ()
) -> MaskingError:
    """An engine error naming where it happened and the rule the database applied, without any
    text of the driver's (see masking.dberrors)."""
    return database_error(exc, table=table, stage=stage, columns=columns, column=column)


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
            raise wrap_error(
                exc, table=self.label, stage="begin load", columns=self.columns
            ) from exc
        return self

    def write(self, batch: pa.RecordBatch, batch_no: int) -> int:
        if not self.target.keeps_offsets:
            batch = offsets.strip(batch)
        try:
            written = self.target.write_batch(self.info, self.columns, batch)
        except Exception as exc:
            raise wrap_error(
                exc, table=self.label, stage=f"write (batch {batch_no})", columns=self.columns
            ) from exc
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
            raise wrap_error(err, table=self.label, stage="end load", columns=self.columns) from err
