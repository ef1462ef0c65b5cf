"""Consistency groups: the columns of a plan masked with the same technique and parameters.

Every column of a group gets the same function, so a value masks to the same output in all of
them and joins between them hold (a unique ``customers.email`` and its denormalised copy in
``orders.customer_email``). Where the columns differ in size, the group takes the tightest:
the shortest length and the fewest digits of any member decide the form of the output for all
of them, never one column alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace

import pyarrow as pa

from masking.dialects.arrowconv import arrow_type
from masking.extract import ResolvedTable
from masking.plan import ColumnRule
from masking.schema import ColumnInfo, ColumnSpec
from masking.techniques.numbers import int_digits


def rule_signature(rule: ColumnRule) -> tuple[str, str, bool]:
    """What makes two columns mask alike: technique, parameters and mode."""
    params = json.dumps(dict(rule.params), sort_keys=True, default=str)
    return (rule.technique, params, rule.deterministic)


@dataclass(frozen=True)
class Member:
    table: str
    column: str
    max_length: int | None


@dataclass(frozen=True)
class Group:
    technique: str
    params: str  # canonical JSON
    deterministic: bool
    members: tuple[Member, ...]
    spec: ColumnSpec  # the tightest column of the group, which every member masks by

    @property
    def shortened_by(self) -> Member | None:
        """The member whose length sets a shorter limit than another member's own."""
        lengths = [m.max_length for m in self.members]
        if self.spec.max_length is None or len(set(lengths)) < 2:
            return None
        return next(m for m in self.members if m.max_length == self.spec.max_length)

    def describe(self) -> str:
        names = ", ".join(f"{m.table}.{m.column}" for m in self.members)
        text = (
            f"{len(self.members)} columns masked with '{self.technique}' give the same output "
            f"for the same value, so they stay joinable: {names}"
        )
        tight = self.shortened_by
        if tight is not None:
            text += (
                f" (all take the form that fits {tight.table}.{tight.column}, "
                f"{tight.max_length} characters)"
            )
        return text


def column_spec(rt: ResolvedTable, rule: ColumnRule) -> ColumnSpec:
    """What the technique must respect: the TARGET column, unique if either side is a key."""
    col = rt.target_column(rule.target_column)
    src = rt.source.column(rule.source_column)
    whole = pa.types.is_integer(arrow_type(col))
    return ColumnSpec(
        category=col.category,
        max_length=col.max_length,
        precision=col.precision,
        scale=0 if whole and col.scale is None else col.scale,
        nullable=col.nullable,
        unique=rt.is_unique_target(rule),
        name=col.name,
        extra={
            "native_type": col.native_type,
            "source_category": str(src.category) if src else "",
            "int_digits": _int_digits(col, src),
        },
    )


def _int_digits(target: ColumnInfo, source: ColumnInfo | None) -> int:
    digits = [int_digits(arrow_type(target))]
    if source is not None:
        typ = arrow_type(source)
        if pa.types.is_integer(typ) or pa.types.is_decimal(typ):
            digits.append(int_digits(typ))
    return min(digits)


def tightest(specs: Iterable[ColumnSpec]) -> ColumnSpec:
    """One spec every member can hold: shortest length, fewest digits, smallest scale."""
    specs = list(specs)
    first = specs[0]

    def least(values: Iterable[int | None]) -> int | None:
        known = [v for v in values if v is not None]
        return min(known) if known else None

    scale = least(s.scale for s in specs)
    whole = least(
        (s.precision - (s.scale or 0)) if s.precision is not None else None for s in specs
    )
    return replace(
        first,
        max_length=least(s.max_length for s in specs),
        precision=None if whole is None else whole + (scale or 0),
        scale=scale,
        extra={**first.extra, "int_digits": least(s.extra.get("int_digits") for s in specs)},
    )


def groups(tables: Iterable[ResolvedTable]) -> list[Group]:
    """The plan's masked columns grouped by technique, parameters and mode, in plan order."""
    return consistency_groups(
        (rt.label, rule, column_spec(rt, rule)) for rt in tables for rule in rt.rules
    )


def consistency_groups(columns: Iterable[tuple[str, ColumnRule, ColumnSpec]]) -> list[Group]:
    """Groups from (table label, rule, the column's spec): for callers that hold no resolved
    tables yet, such as a wizard reading the columns it is about to map."""
    found: dict[tuple[str, str, bool], list[tuple[str, ColumnRule, ColumnSpec]]] = {}
    for label, rule, spec in columns:
        if rule.masked:
            found.setdefault(rule_signature(rule), []).append((label, rule, spec))
    return [
        Group(
            technique,
            params,
            det,
            tuple(Member(label, r.target_column, s.max_length) for label, r, s in members),
            tightest(s for _, _, s in members),
        )
        for (technique, params, det), members in found.items()
    ]


def member_spec(group: Group, own: ColumnSpec) -> ColumnSpec:
    """A member's spec for masking: the group's limits, the member's own name and flags."""
    return replace(
        group.spec,
        name=own.name,
        nullable=own.nullable,
        unique=own.unique,
        category=own.category,
        extra={**own.extra, "int_digits": group.spec.extra.get("int_digits")},
    )
