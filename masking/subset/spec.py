"""What a subset asks for: root tables with a condition and/or a deterministic sample, and what
to do with the children of kept rows, per relationship. Plain, JSON-able data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CHILD_POLICIES = ("all", "none", "limited")


@dataclass(frozen=True)
class SubsetRoot:
    """Rows of one table the subset starts from: those matching `where` (a row-filter
    predicate), then, if asked, a sample of them: `percent` of the rows or `rows` rows, chosen
    by a keyed hash of the primary key, so the same workflow key picks the same rows."""

    schema: str
    table: str
    where: str | None = None
    percent: float | None = None
    rows: int | None = None

    def __post_init__(self) -> None:
        if self.percent is not None and self.rows is not None:
            raise ValueError("a subset root takes a percentage or a row count, not both")
        if self.percent is not None and not 0 < self.percent <= 100:
            raise ValueError("a subset percentage must be above 0 and at most 100")
        if self.rows is not None and self.rows < 0:
            raise ValueError("a subset row count cannot be negative")

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "table": self.table,
            "where": self.where,
            "percent": self.percent,
            "rows": self.rows,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SubsetRoot:
        percent, rows = data.get("percent"), data.get("rows")
        return cls(
            schema=data.get("schema") or "",
            table=data["table"],
            where=data.get("where") or None,
            percent=float(percent) if percent not in (None, "") else None,
            rows=int(rows) if rows not in (None, "") else None,
        )


@dataclass(frozen=True)
class Relationship:
    """How the children of kept rows are followed through one foreign key of `table` (the
    child): all of them, none, or at most `limit` per parent row (the lowest keys)."""

    schema: str
    table: str
    columns: tuple[str, ...]  # the foreign key's columns in the child table
    children: str = "all"
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.children not in CHILD_POLICIES:
            raise ValueError(f"children must be one of {', '.join(CHILD_POLICIES)}")
        if self.children == "limited" and (self.limit is None or self.limit < 1):
            raise ValueError("a limited relationship needs a limit of at least 1")

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "table": self.table,
            "columns": list(self.columns),
            "children": self.children,
            "limit": self.limit,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Relationship:
        limit = data.get("limit")
        return cls(
            schema=data.get("schema") or "",
            table=data["table"],
            columns=tuple(data.get("columns") or ()),
            children=data.get("children") or "all",
            limit=int(limit) if limit not in (None, "") else None,
        )


@dataclass(frozen=True)
class Subset:
    roots: tuple[SubsetRoot, ...]
    relationships: tuple[Relationship, ...] = ()
    children: str = "all"  # the policy of relationships not listed
    limit: int | None = None  # with children "limited": at most this many per parent row

    def __post_init__(self) -> None:
        if self.children not in CHILD_POLICIES:
            raise ValueError(f"children must be one of {', '.join(CHILD_POLICIES)}")
        if self.children == "limited" and (self.limit is None or self.limit < 1):
            raise ValueError("limited children need a limit of at least 1")

    def policy(self, schema: str, table: str, columns: tuple[str, ...]) -> Relationship | None:
        for rel in self.relationships:
            if (
                rel.table.lower() == table.lower()
                and (not rel.schema or not schema or rel.schema.lower() == schema.lower())
                and tuple(c.lower() for c in rel.columns) == tuple(c.lower() for c in columns)
            ):
                return rel
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "roots": [r.to_dict() for r in self.roots],
            "relationships": [r.to_dict() for r in self.relationships],
            "children": self.children,
            **({"limit": self.limit} if self.children == "limited" else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Subset | None:
        if not data or not data.get("roots"):
            return None
        return cls(
            roots=tuple(SubsetRoot.from_dict(r) for r in data["roots"]),
            relationships=tuple(Relationship.from_dict(r) for r in data.get("relationships") or ()),
            children=data.get("children") or "all",
            limit=int(limit) if (limit := data.get("limit")) not in (None, "") else None,
        )
