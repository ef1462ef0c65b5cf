"""SQL Server sources of a run in units: each unit reads under SNAPSHOT isolation, one
consistent view of its own, where the database allows it (ALLOW_SNAPSHOT_ISOLATION ON). SQL
Server cannot hand one snapshot to other sessions, so the units do not share one; a database
that does not allow SNAPSHOT gives none, and the run's report says so."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SNAPSHOT_ALLOWED = "SELECT snapshot_isolation_state FROM sys.databases WHERE name = DB_NAME()"


class SnapshotReads:
    """Mixed into the SQL Server dialect (which gives connect, execute and _rows)."""

    _conn: Any
    _snapshot_allowed: bool | None = None

    @property
    def read_consistency(self) -> str:
        if self._snapshot_allowed is None:
            try:
                rows = self._rows(SNAPSHOT_ALLOWED)  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - a login that may not read it: no snapshot
                rows = []
            self._snapshot_allowed = bool(rows and rows[0][0] == 1)
        return "unit" if self._snapshot_allowed else ""

    @read_consistency.setter
    def read_consistency(self, value: str) -> None:  # a test may decide
        self._snapshot_allowed = value == "unit"

    @contextmanager
    def snapshot_reads(self, token: str | None) -> Iterator[None]:
        if self.read_consistency != "unit":
            yield
            return
        conn = self.connect()  # type: ignore[attr-defined]
        self.execute("SET TRANSACTION ISOLATION LEVEL SNAPSHOT")  # type: ignore[attr-defined]
        conn.autocommit = False  # the snapshot is taken by the first read and kept until the end
        try:
            yield
        finally:
            if self._conn is not None:
                try:
                    conn.rollback()
                finally:
                    conn.autocommit = True
                    self.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")  # type: ignore[attr-defined]
