"""PostgreSQL keyset pages read as binary COPY and parsed in C (`_pgcopy.c`) straight into
Arrow buffers, with the GIL free for the masking and loading threads.

The reader has a psycopg connection of its own. psycopg starts each page's `COPY (SELECT ...)
TO STDOUT (FORMAT binary)`; the extension then takes the rows from that connection's libpq
(`PGconn` pointer and the addresses of `PQgetCopyData` and `PQfreemem` in the libpq psycopg
loaded, found with dlopen's RTLD_NOLOAD so that it is the very same library) through the
COPY's trailer, and psycopg reads the COPY's end: an error the server sends there is
psycopg's to report. It parses about three times cheaper than the ADBC driver
(`postgresql_arrow`), which stays the reader where this one cannot open (another platform,
another psycopg build).

It reads the same pages with the same rules: only columns whose every value comes back as
the other read paths return it (`real`, `numeric`, uuid and user-defined types selected as
text and converted as there), a page with a date or timestamp outside years 1–9999 (or
infinite) refused; a refused page, or an error of the statement, returns None and the caller
reads that page again through psycopg's cursor paths, which report errors in the engine's
own words. A lost session raises ConnectionError."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from masking.dialects import postgresql_arrow
from masking.schema import ColumnInfo, TypeCategory

try:
    from masking.dialects import _pgcopy as _native  # type: ignore[attr-defined]
except ImportError:  # built with the package; without it the ADBC reader is used
    _native = None

# Wire kinds of the column types read here (`_pgcopy.c`), with their Arrow types.
_KINDS = {
    "smallint": "h",
    "int2": "h",
    "integer": "i",
    "int4": "i",
    "bigint": "q",
    "int8": "q",
    "double precision": "d",
    "float8": "d",
    "boolean": "?",
    "date": "D",
    "timestamp without time zone": "T",
    "timestamp": "T",
}
_ARROW = {
    "s": pa.string(),
    "h": pa.int16(),
    "i": pa.int32(),
    "q": pa.int64(),
    "d": pa.float64(),
    "?": pa.bool_(),
    "D": pa.date32(),
    "T": pa.timestamp("us"),
}
_THROUGH_TRAILER = (0, 3, 4)  # statuses of _pgcopy.read that leave the COPY's end to psycopg
_OK = 0  # libpq's CONNECTION_OK
_TEXT = frozenset({"character varying", "varchar", "text", "character", "char", "bpchar"})


class _Spent(Exception):
    """The COPY stopped before its trailer."""


def wire_kind(col: ColumnInfo) -> str | None:
    """How the column's value travels in the page (see postgresql_arrow.select_expr), or None
    when this reader does not take it."""
    if postgresql_arrow.select_expr("c", col) != "c":
        return "s"  # selected as text
    if col.category is TypeCategory.STRING:
        return "s" if col.native_type in _TEXT else None
    return _KINDS.get(col.native_type)


def raw_arrays(kinds: Sequence[str | None], rows: int, columns: Sequence[Any]) -> list[pa.Array]:
    """The columns `_pgcopy` parsed, as Arrow arrays of their wire kinds' types."""
    out = []
    for kind, (valid, data, offsets, nulls) in zip(kinds, columns, strict=True):
        buffers = [None if valid is None else pa.py_buffer(valid)]
        if offsets is not None:
            buffers.append(pa.py_buffer(offsets))
        buffers.append(pa.py_buffer(data))
        out.append(pa.Array.from_buffers(_ARROW[str(kind)], rows, buffers, nulls))
    return out


def _libpq(psycopg: Any) -> ctypes.CDLL | None:
    """The libpq psycopg itself loaded, or None when it cannot be told apart."""
    impl = psycopg.pq.__impl__
    if impl == "python":
        from psycopg.pq import _pq_ctypes

        lib: ctypes.CDLL = getattr(_pq_ctypes, "pq")  # noqa: B009 - not in its stubs
        return lib
    if impl != "binary" or not hasattr(os, "RTLD_NOLOAD"):
        return None
    import psycopg_binary

    libs = Path(psycopg_binary.__file__).resolve().parent.parent / "psycopg_binary.libs"
    for path in sorted(libs.glob("libpq*.so*")):
        try:  # RTLD_NOLOAD: only a library this process has loaded already
            return ctypes.CDLL(str(path), mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
        except OSError:
            continue
    return None


def open_pages(options: Mapping[str, Any]) -> CopyPages | None:
    """A reader on a connection of its own, or None (not built, no libpq found, not UTF-8, or
    it cannot connect: the other paths read then, and report any problem with the server)."""
    if _native is None:
        return None
    try:
        return CopyPages(options)
    except Exception:  # noqa: BLE001 - psycopg's text may quote the connection's settings
        return None


class CopyPages(postgresql_arrow.SnapshotPages):
    """One psycopg connection (autocommit) for the pages of a dialect's reads."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        import psycopg

        lib = _libpq(psycopg)
        if _native is None or lib is None:
            raise RuntimeError("no libpq to read binary COPY from")
        self._conn: Any = None
        self._conn = psycopg.connect(autocommit=True, **options)
        if str(self._conn.info.encoding).lower().replace("_", "-") not in ("utf-8", "utf8"):
            self.close()
            raise RuntimeError("the session's encoding is not UTF-8")
        self._functions = (
            ctypes.cast(lib.PQgetCopyData, ctypes.c_void_p).value,
            ctypes.cast(lib.PQfreemem, ctypes.c_void_p).value,
        )

    def _execute(self, sql: str) -> None:
        self._conn.execute(sql)

    def read(self, sql: str, cols: Sequence[ColumnInfo]) -> pa.RecordBatch | None:
        """The page as a batch in the columns' Arrow types, or None (read it through psycopg)."""
        kinds = [wire_kind(c) for c in cols]
        if self.broken or None in kinds:
            return None
        import psycopg

        status = -1
        try:
            with (
                self._conn.cursor() as cur,
                cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT binary)") as copy,
            ):
                status, rows, columns = _native.read(
                    self._conn.pgconn.pgconn_ptr,
                    *self._functions,
                    "".join(k or "" for k in kinds).encode(),
                )
                if status not in _THROUGH_TRAILER:
                    raise _Spent
                while copy.read():  # the COPY's end: its status, or the server's error
                    pass
        except (psycopg.Error, _Spent):
            if self._lost(early=status != -1 and status not in _THROUGH_TRAILER):
                # The session is gone: the run fails, as it would had its other session been
                # lost. Our words only: psycopg's may quote the statement.
                self.broken = True
                raise ConnectionError("the session reading the source's pages was lost") from None
            if status != -1 and status not in _THROUGH_TRAILER:
                # The COPY ended early (an error) or libpq failed: psycopg could not take its
                # end, so this session is spent.
                self.broken = True
                self.close()
            else:  # a failed statement aborts a snapshot transaction: no later page may use it
                self.broken = self.broken or self._snapshot is not None
            return None
        if status != 0:
            return None  # a row of an unexpected shape: read again through psycopg
        return postgresql_arrow.conformed_batch(raw_arrays(kinds, rows, columns), cols)

    def _lost(self, early: bool) -> bool:
        """Whether this reader's session is gone. A COPY the server ended early may have ended
        because the server ended the session: libpq hands over that last error before it reads
        the socket's close, so the session still looks open and one round trip tells."""
        conn = self._conn
        if conn is None or conn.closed or conn.pgconn.status != _OK:
            return True
        if early:
            try:
                conn.pgconn.exec_(b"SELECT 1")  # through libpq itself, under psycopg
            except Exception:  # noqa: BLE001 - no round trip: the session is gone or unusable
                return True
        return conn.pgconn.status != _OK

    def close(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        conn.close()

    def __del__(self) -> None:  # a dialect left open
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass
