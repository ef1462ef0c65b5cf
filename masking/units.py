"""Work units: a run planned as pieces that any worker can run on its own.

A unit is a whole table, or a key range of a large one. Split points come from the source's
primary key: evenly spaced between its minimum and maximum for an integer key, and from a
sample of the ordered key (every `unit_rows`-th value) for other keys. A table whose key is
composite, or whose dialect cannot sample by offset, is one unit. A unit's rows are those of
the table's row filter that fall in [lo, hi): the bounds are rendered by sqlglot as literals
of the source dialect, never pasted."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlglot import exp

from masking.dialects.arrowconv import arrow_type
from masking.dialects.base import Dialect
from masking.extract import ResolvedTable, count_source_rows, parents_of
from masking.load import wrap_error

DEFAULT_UNIT_ROWS = 250_000


@dataclass(frozen=True)
class Unit:
    table: str  # the table's label (its target table)
    index: int  # run-wide number, 0-based, stable for a given plan and source
    level: int  # dependency level of the table: parents have lower levels
    lo: Any = None  # inclusive lower key bound (None: open)
    hi: Any = None  # exclusive upper key bound (None: open)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Unit:
        return cls(data["table"], int(data["index"]), int(data["level"]), data["lo"], data["hi"])


def dependency_levels(order: Sequence[ResolvedTable], default_schema: str) -> dict[str, int]:
    """0 for tables referencing no other table of the plan, else 1 + their parents' highest.
    `order` is load order (parents first); in a cycle the database's checks decide."""
    level_by_key: dict[tuple[str, str], int] = {}
    out: dict[str, int] = {}
    for rt in order:
        parents = [level_by_key[k] for k in parents_of(rt, default_schema) if k in level_by_key]
        level = 1 + max(parents) if parents else 0
        level_by_key[rt.key(default_schema)] = level
        out[rt.label] = level
    return out


def plan_units(
    source: Dialect, order: Sequence[ResolvedTable], default_schema: str, unit_rows: int
) -> tuple[list[Unit], dict[str, int]]:
    """The run's units in load order, and the rows each table's filter selects."""
    if unit_rows < 1:
        raise ValueError("unit_rows must be at least 1")
    levels = dependency_levels(order, default_schema)
    units: list[Unit] = []
    totals: dict[str, int] = {}
    for rt in order:
        total = count_source_rows(source, rt)
        totals[rt.label] = total
        points = _split_points(source, rt, total, unit_rows)
        bounds = [None, *points, None]
        for lo, hi in zip(bounds, bounds[1:], strict=False):
            units.append(Unit(rt.label, len(units), levels[rt.label], lo, hi))
    return units, totals


def _split_points(source: Dialect, rt: ResolvedTable, total: int, unit_rows: int) -> list[Any]:
    pk = rt.source.primary_key
    count = -(-total // unit_rows)
    if len(pk) != 1 or count <= 1:
        return []
    col = rt.source.column(pk[0])
    assert col is not None
    table = source.qualified(rt.source.schema, rt.source.name)
    key = source.quote(pk[0])
    where = f" WHERE {rt.plan.row_filter}" if rt.plan.row_filter else ""
    try:
        if pa.types.is_integer(arrow_type(col)):
            lo, hi = _fetch(source, f"SELECT MIN({key}), MAX({key}) FROM {table}{where}")[0]
            if lo is None or hi <= lo:
                return []
            lo, hi = int(lo), int(hi)
            step = max(1, -(-(hi - lo + 1) // count))
            return list(range(lo + step, hi + 1, step))
        if source.capabilities.sqlglot_dialect == "tsql":
            return []  # no LIMIT/OFFSET: one unit
        points = []
        for k in range(1, count):
            sql = f"SELECT {key} FROM {table}{where} ORDER BY {key} LIMIT 1 OFFSET {k * unit_rows}"
            found = _fetch(source, sql)
            if found and found[0][0] is not None:
                value = found[0][0]
                points.append(value if isinstance(value, int | str) else str(value))
        return sorted(set(points))
    except Exception as exc:
        raise wrap_error(exc, table=rt.label, stage="plan units") from exc


def _fetch(source: Dialect, sql: str) -> list[tuple[Any, ...]]:
    cur = source.connect().cursor()
    try:
        cur.execute(sql)
        return list(cur.fetchall())
    finally:
        cur.close()


def unit_filter(source: Dialect, rt: ResolvedTable, unit: Unit) -> str | None:
    """The predicate selecting the unit's rows in the source dialect: the table's row filter
    and the unit's key range."""
    parts = [f"({rt.plan.row_filter})"] if rt.plan.row_filter else []
    if unit.lo is not None or unit.hi is not None:
        dialect = source.capabilities.sqlglot_dialect
        key = exp.column(rt.source.primary_key[0], quoted=True)
        conds: list[exp.Expression] = []
        if unit.lo is not None:
            conds.append(exp.GTE(this=key.copy(), expression=_literal(unit.lo)))
        if unit.hi is not None:
            conds.append(exp.LT(this=key.copy(), expression=_literal(unit.hi)))
        parts.append(exp.and_(*conds).sql(dialect=dialect))
    return " AND ".join(parts) or None


def _literal(value: Any) -> exp.Expression:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return exp.Literal.string(str(value))
    return exp.Literal.number(value)


def for_unit(source: Dialect, rt: ResolvedTable, unit: Unit) -> ResolvedTable:
    """The table bound to the unit: reading it reads the unit's rows only."""
    plan = dataclasses.replace(rt.plan, row_filter=unit_filter(source, rt, unit))
    return dataclasses.replace(rt, plan=plan)


__all__ = [
    "DEFAULT_UNIT_ROWS",
    "Unit",
    "dependency_levels",
    "for_unit",
    "plan_units",
    "unit_filter",
]
