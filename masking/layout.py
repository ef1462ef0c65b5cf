"""What a run in units keeps between its tasks (the Layout, JSON-able, stored with the
execution), what a unit reports, and the connection that holds the source snapshot the units
read."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from masking.dialects.base import Dialect
from masking.load import wrap_error
from masking.plan import Plan, plan_hash
from masking.units import Unit


@dataclass(frozen=True)
class Layout:
    run_id: str
    schema: str  # target schema holding the staging tables
    plan_hash: str
    key_version: str
    units: tuple[Unit, ...]
    stages: dict[str, str]  # table label -> staging table name
    totals: dict[str, int]  # rows each table's filter selected when the run was planned
    snapshot: str | None = None
    read_consistency: str = ""
    created: float = field(default_factory=time.time)
    # target tables (schema, table) this run created: dropped again unless it publishes
    created_tables: tuple[tuple[str, str], ...] = ()
    # table label -> its definition's signature, for the tables whose staging table was made
    # as a copy of them, to be swapped in at the publish (Dialect.swap_signatures)
    copies: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["units"] = [u.to_dict() for u in self.units]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Layout:
        d = dict(data)
        d["units"] = tuple(Unit.from_dict(u) for u in d["units"])
        d["created_tables"] = tuple(tuple(t) for t in d.get("created_tables") or ())
        return cls(**d)

    def levels(self) -> list[list[Unit]]:
        out: dict[int, list[Unit]] = {}
        for unit in self.units:
            out.setdefault(unit.level, []).append(unit)
        return [out[k] for k in sorted(out)]

    def matches(self, plan: Plan) -> bool:
        """Staged units can be kept: same plan and same key."""
        return self.plan_hash == plan_hash(plan) and self.key_version == plan.key_version


@dataclass(frozen=True)
class UnitResult:
    index: int
    table: str
    rows_read: int
    rows_masked: int
    seconds: float


class SnapshotHolder:
    """Keeps the source snapshot the units read alive, on a connection of its own."""

    def __init__(self, source: Dialect):
        from masking.dialects import get_dialect

        self.dialect = get_dialect(source.params)
        try:
            self.token = self.dialect.export_snapshot()
        except Exception as exc:
            self.dialect.close()
            raise wrap_error(exc, table="", stage="export snapshot") from exc

    def close(self) -> None:
        self.dialect.close()

    def __enter__(self) -> SnapshotHolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Layout", "SnapshotHolder", "UnitResult"]
