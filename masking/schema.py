"""Plain data describing database structure, shared by dialects, techniques and the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class TypeCategory(StrEnum):
    """The smart filter's vocabulary: every native type maps to exactly one category."""

    STRING = "string"
    NUMERIC = "numeric"
    DATE = "date"
    DATETIME = "datetime"
    TIME = "time"
    BOOLEAN = "boolean"
    UUID = "uuid"
    BINARY = "binary"
    OTHER = "other"


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    native_type: str
    category: TypeCategory
    nullable: bool = True
    max_length: int | None = None  # characters for strings, bytes for binary; None = unbounded
    precision: int | None = None
    scale: int | None = None
    default: str | None = None
    is_identity: bool = False
    is_primary_key: bool = False
    is_computed: bool = False  # computed / rowversion columns are never inserted
    ordinal: int = 0


@dataclass(frozen=True)
class ForeignKey:
    name: str
    columns: tuple[str, ...]
    ref_schema: str
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class UniqueConstraint:
    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class TableInfo:
    schema: str
    name: str
    columns: tuple[ColumnInfo, ...] = ()
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    unique_constraints: tuple[UniqueConstraint, ...] = ()
    row_estimate: int | None = None

    def column(self, name: str) -> ColumnInfo | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None

    def is_unique(self, column: str) -> bool:
        """True when the column alone is a key (single-column PK or unique constraint)."""
        if self.primary_key == (column,):
            return True
        return any(u.columns == (column,) for u in self.unique_constraints)


@dataclass(frozen=True)
class TableSummary:
    schema: str
    name: str
    row_estimate: int | None = None
    kind: str = "table"


@dataclass(frozen=True)
class ColumnSpec:
    """What a technique needs to know about the column it writes into."""

    category: TypeCategory
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    nullable: bool = True
    unique: bool = False
    name: str = ""
    extra: dict = field(default_factory=dict)
