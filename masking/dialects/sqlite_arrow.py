"""SQLite pages read by the ADBC SQLite driver straight into Arrow columns: no Python object per
value, and the GIL is free while the page is read, for the masking and loading threads.

SQLite types values, not columns. The driver infers each result column's type from the values
it meets and turns the others into it (an integer in a text column comes back as '2', a real
as '2.500000e+00'). So every page also selects a flag per row: does each value have a storage
class its column is read as? A page with any other value, or whose arrays come back in other
types, is not used; the caller reads that page again through sqlite3, which keeps every value
as stored, and carries on through sqlite3 (`SQLiteDialect.read_batches`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

try:
    import adbc_driver_sqlite
    import adbc_driver_sqlite.dbapi as adbc
except ImportError:  # a declared dependency; without it every page goes through sqlite3
    adbc = None  # type: ignore[assignment]

# Larger integers are not exactly representable as doubles: the sqlite3 path reads those
# values one by one, so such a page is left to it.
_EXACT_IN_DOUBLE = 2**53


def _storage_check(quoted: str, raw: pa.DataType) -> str | None:
    """SQL true when the value has a storage class the driver returns as `raw` unchanged."""
    if pa.types.is_integer(raw):
        return f"typeof({quoted}) IN ('integer', 'null')"
    if pa.types.is_floating(raw):
        return (
            f"(typeof({quoted}) IN ('real', 'null') OR (typeof({quoted}) = 'integer' "
            f"AND {quoted} BETWEEN {-_EXACT_IN_DOUBLE} AND {_EXACT_IN_DOUBLE}))"
        )
    if pa.types.is_string(raw):
        return f"typeof({quoted}) IN ('text', 'null')"
    if pa.types.is_binary(raw):
        return f"typeof({quoted}) IN ('blob', 'null')"
    return None


def storage_flag(quoted: Sequence[str], raw: Sequence[pa.DataType]) -> str | None:
    """One SQL expression, 1 when every selected value passes its check; None when a column has
    no Arrow read at all."""
    checks = [_storage_check(q, t) for q, t in zip(quoted, raw, strict=True)]
    if not checks or any(c is None for c in checks):
        return None
    return "(" + " AND ".join(f"({c})" for c in checks) + ")"


def _as_raw(arr: pa.Array, raw: pa.DataType) -> pa.Array | None:
    if arr.null_count == len(arr):
        return pa.nulls(len(arr), raw)
    typ = arr.type
    try:
        if pa.types.is_integer(raw) and pa.types.is_integer(typ):
            return arr if typ == raw else arr.cast(raw, safe=True)
        if pa.types.is_floating(raw) and (pa.types.is_floating(typ) or pa.types.is_integer(typ)):
            return arr if typ == raw else arr.cast(raw, safe=True)
        if pa.types.is_string(raw) and (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
            arr.validate(full=True)  # text that is not UTF-8: sqlite3 reports it, so must we
            return arr if typ == raw else arr.cast(raw)
        if pa.types.is_binary(raw) and (pa.types.is_binary(typ) or pa.types.is_large_binary(typ)):
            return arr if typ == raw else arr.cast(raw)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return None


def open_pages(uri: str, page_rows: int) -> ArrowPages | None:
    """A read-only ADBC reader of the file, or None (no driver, or a file the driver cannot
    open: sqlite3 reads it then, and reports what is wrong with it)."""
    if adbc is None:
        return None
    try:
        return ArrowPages(uri, page_rows)
    except Exception:  # noqa: BLE001
        return None


class ArrowPages:
    """One read-only ADBC connection for the pages of one read. Any driver error, or a page
    it cannot return value for value, makes ``read`` return None."""

    def __init__(self, uri: str, page_rows: int) -> None:
        if adbc is None:
            raise RuntimeError("the ADBC SQLite driver is not installed")
        self._conn = adbc.connect(uri)
        try:
            self._cur = self._conn.cursor()
            # one Arrow batch per page, so the driver infers each type from the whole page
            self._cur.adbc_statement.set_options(
                **{adbc_driver_sqlite.StatementOptions.BATCH_ROWS.value: str(max(1, page_rows))}
            )
        except Exception:
            self._conn.close()
            raise

    def read(
        self, sql: str, params: Sequence[Any], raw: Sequence[pa.DataType]
    ) -> list[pa.Array] | None:
        """The page's arrays in the `raw` types (the flag column dropped; [] for no rows), or
        None when the page must be read through sqlite3."""
        try:
            self._cur.execute(sql, tuple(params))
            table = self._cur.fetch_arrow_table()
        except Exception:  # noqa: BLE001 - the sqlite3 path re-reads the page and reports
            return None
        if table.num_rows == 0:
            return []
        if table.num_columns != len(raw) + 1:
            return None
        flag = table.column(len(raw))
        if flag.null_count or not pc.all(pc.not_equal(flag, 0)).as_py():
            return None
        out = []
        for i, typ in enumerate(raw):
            arr = _as_raw(table.column(i).combine_chunks(), typ)
            if arr is None:
                return None
            out.append(arr)
        return out

    def close(self) -> None:
        try:
            self._cur.close()
        finally:
            self._conn.close()
