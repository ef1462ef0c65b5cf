"""PostgreSQL keyset pages read by the ADBC PostgreSQL driver, where the binary COPY reader
(masking.dialects.postgresql_copy, which uses `select_expr` and `conform` from here) cannot
open: the server sends binary COPY, and
the driver parses it in C++ straight into Arrow columns, with the GIL free for the masking and
loading threads. psycopg hands a COPY to Python one row at a time, which held the GIL for
about 0.6 s per million rows.

Only a page whose every column comes back value for value as the other read paths return it
is used. `real`, `numeric` and user-defined types are selected as text; `numeric` text is cast
to the column's decimal, so a value with more digits than the column's Arrow type holds (or
NaN) refuses the page; dates and timestamps outside years 1–9999 (infinity included) refuse
it too. A refused page, or an error of the statement, returns None: the caller reads that
page again through psycopg, which reports the error in the engine's own words (the driver's
text quotes the statement, so it never leaves this module). A lost session raises
ConnectionError: the run fails, as it does when its psycopg session is lost.

The reader joins the dialect's shared snapshot when there is one (`begin`), so every page of
a staged unit sees the same data as its psycopg reads."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from masking.dialects import arrowconv
from masking.schema import ColumnInfo, TypeCategory

# A transaction that reads a shared snapshot waits, idle, on masking and on the target's load,
# and the one that exports it waits for the whole run: a server or role
# idle_in_transaction_session_timeout would end them mid-run. SET LOCAL: only the transaction.
NO_IDLE_TIMEOUT = "SET LOCAL idle_in_transaction_session_timeout = 0"

try:
    import adbc_driver_postgresql.dbapi as adbc
except ImportError:  # a declared dependency; without it every page goes through psycopg
    adbc = None

# Selected as text: float4's shortest text is the value psycopg reads (its binary form widened
# to a double is not), the driver has no type for user-defined ones (enums), and it turns
# numeric's binary form into text itself, at several times the cost of the server's text.
_AS_TEXT = frozenset({"real", "float4", "user-defined", "numeric", "decimal"})

_EPOCH = dt.date(1970, 1, 1)
_FIRST_DAY = (dt.date(1, 1, 1) - _EPOCH).days
_LAST_DAY = (dt.date(9999, 12, 31) - _EPOCH).days
_DAY_US = 86_400_000_000


def select_expr(quoted: str, col: ColumnInfo) -> str:
    """The column in the page's select list. The pages read here are those whose every column
    the CSV path reads too (postgresql_read.readable): the driver returns each of those types
    exactly, some of them selected as text."""
    if col.category in (TypeCategory.OTHER, TypeCategory.UUID) or col.native_type in _AS_TEXT:
        return f"{quoted}::text"
    return quoted


def conninfo(options: Mapping[str, Any]) -> str:
    """A libpq keyword/value string: each value quoted, with backslash and quote escaped."""

    def quote(value: Any) -> str:
        text = str(value).replace("\\", "\\\\").replace("'", "\\'")
        return f"'{text}'"

    return " ".join(f"{key}={quote(value)}" for key, value in options.items())


def open_pages(options: Mapping[str, Any]) -> ArrowPages | None:
    """A reader on a connection of its own, or None (no driver, or it cannot connect: the
    psycopg paths read then, and report any problem with the server)."""
    if adbc is None:
        return None
    try:
        return ArrowPages(conninfo(options))
    except Exception:  # noqa: BLE001 - the driver's text may quote the connection string
        return None


class SnapshotPages(ABC):
    """What the page readers share: joining the dialect's exported snapshot. A reader runs
    its statements through `_execute` on a session of its own."""

    _snapshot: str | None = None
    broken = False

    @abstractmethod
    def _execute(self, sql: str) -> None:
        """Run `sql` on the reader's own session."""

    def begin(self, token: str) -> bool:
        """Read in the exported snapshot `token` until end(); False when the server refuses."""
        try:
            self._execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            self._execute(NO_IDLE_TIMEOUT)
            self._snapshot = token
            self._execute(f"SET TRANSACTION SNAPSHOT '{token}'")
        except Exception:  # noqa: BLE001
            self.broken = True
            return False
        return True

    def end(self) -> None:
        if self._snapshot is None:
            return
        self._snapshot = None
        try:
            self._execute("ROLLBACK")  # read only: nothing to keep
        except Exception:  # noqa: BLE001
            self.broken = True


class ArrowPages(SnapshotPages):
    """One ADBC connection (autocommit) for the pages of a dialect's reads."""

    def __init__(self, info: str) -> None:
        if adbc is None:
            raise RuntimeError("the ADBC PostgreSQL driver is not installed")
        self._conn: Any = None
        self._conn = adbc.connect(info, autocommit=True)
        self._cur = self._conn.cursor()

    def _execute(self, sql: str) -> None:
        self._cur.execute(sql)

    def read(self, sql: str, cols: Sequence[ColumnInfo]) -> pa.RecordBatch | None:
        """The page as a batch in the columns' Arrow types, or None (read it through psycopg)."""
        if self.broken:
            return None
        try:
            self._cur.execute(sql)
            table = self._cur.fetch_arrow_table()
        except Exception as exc:  # noqa: BLE001 - psycopg re-reads the page, reports in our words
            if adbc is not None and isinstance(exc, adbc.OperationalError):
                # The session is gone (terminated, or the server went away): the run fails, as
                # it would had its other session been lost. Our words only: the driver's quote
                # the statement, key values included.
                self.broken = True
                raise ConnectionError("the session reading the source's pages was lost") from None
            # A failed statement aborts a snapshot transaction: no later page may use it.
            self.broken = self._snapshot is not None
            return None
        if table.num_columns != len(cols):
            return None
        return conformed_batch((c.combine_chunks() for c in table.columns), cols)

    def close(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        try:
            self._cur.close()
        finally:
            conn.close()

    def __del__(self) -> None:  # a dialect left open: close in order (cursor, then connection)
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass


def conformed_batch(
    arrays: Iterable[pa.Array], cols: Sequence[ColumnInfo]
) -> pa.RecordBatch | None:
    """A page's arrays, one per column, as a batch in the columns' Arrow types; None when a
    value cannot be returned exactly (see conform)."""
    schema = arrowconv.arrow_schema(cols)
    out = []
    for arr, field in zip(arrays, schema, strict=True):
        conformed = conform(arr, field.type)
        if conformed is None:
            return None
        out.append(conformed)
    return pa.RecordBatch.from_arrays(out, schema=schema)


def conform(arr: pa.Array, want: pa.DataType) -> pa.Array | None:
    """`arr` as `want` when every value converts exactly, else None."""
    if isinstance(arr, pa.ExtensionArray):
        arr = arr.storage  # numeric: its text
    typ = arr.type
    try:
        if pa.types.is_decimal(want) and pa.types.is_string(typ):
            return arr.cast(want)  # more digits than `want` holds (or NaN) raise
        if pa.types.is_string(want) and pa.types.is_string(typ):
            return arr
        if pa.types.is_floating(want) and (pa.types.is_string(typ) or typ == pa.float64()):
            return arr if typ == want else arr.cast(want)
        if pa.types.is_integer(want) and pa.types.is_integer(typ):
            return arr if typ == want else arr.cast(want, safe=True)
        if pa.types.is_boolean(want) and pa.types.is_boolean(typ):
            return arr
        if pa.types.is_date32(want) and pa.types.is_date32(typ):
            return arr if _within(arr.cast(pa.int32()), _FIRST_DAY, _LAST_DAY) else None
        if pa.types.is_timestamp(want) and typ == want:
            low, high = _FIRST_DAY * _DAY_US, (_LAST_DAY + 1) * _DAY_US - 1
            return arr if _within(arr.cast(pa.int64()), low, high) else None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return None


def _within(values: pa.Array, low: int, high: int) -> bool:
    if values.null_count == len(values):
        return True
    bounds = pc.min_max(values)
    return bool(low <= bounds["min"].as_py() and bounds["max"].as_py() <= high)
