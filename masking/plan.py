"""The plan a run executes: plain frozen data, built by the app from its models.

A plan is JSON-able (minus the secret) so an execution can snapshot exactly what it ran, and
`plan_hash` fingerprints that snapshot."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from masking.subset.spec import Subset

TARGET_MODES = ("truncate", "append", "fail_if_not_empty")
LEAK_ACTIONS = ("fail", "flag")  # what a leak check over the allowed share does to the run
KEEP = "keep"


@dataclass(frozen=True)
class ColumnRule:
    source_column: str
    target_column: str
    technique: str = KEEP  # "keep" copies the value unchanged
    # Mappings are not hashable; rules are compared, never hashed.
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    deterministic: bool = True

    @property
    def masked(self) -> bool:
        return self.technique != KEEP

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_column": self.source_column,
            "target_column": self.target_column,
            "technique": self.technique,
            "params": dict(self.params),
            "deterministic": self.deterministic,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnRule:
        return cls(
            source_column=data["source_column"],
            target_column=data.get("target_column") or data["source_column"],
            technique=data.get("technique") or KEEP,
            params=dict(data.get("params") or {}),
            deterministic=bool(data.get("deterministic", True)),
        )


@dataclass(frozen=True)
class TablePlan:
    source_schema: str
    source_table: str
    target_schema: str
    target_table: str
    columns: tuple[ColumnRule, ...] = ()
    row_filter: str | None = None  # a validated predicate in the source dialect's SQL
    copy_unmapped: bool = False  # copy columns with no rule unchanged when the target has them

    @property
    def label(self) -> str:
        """The name errors and reports use: the target table, where rows land."""
        return (
            f"{self.target_schema}.{self.target_table}"
            if self.target_schema
            else (self.target_table)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_schema": self.source_schema,
            "source_table": self.source_table,
            "target_schema": self.target_schema,
            "target_table": self.target_table,
            "columns": [c.to_dict() for c in self.columns],
            "row_filter": self.row_filter,
            "copy_unmapped": self.copy_unmapped,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TablePlan:
        return cls(
            source_schema=data.get("source_schema") or "",
            source_table=data["source_table"],
            target_schema=data.get("target_schema") or "",
            target_table=data.get("target_table") or data["source_table"],
            columns=tuple(ColumnRule.from_dict(c) for c in data.get("columns") or ()),
            row_filter=data.get("row_filter") or None,
            copy_unmapped=bool(data.get("copy_unmapped", False)),
        )


@dataclass(frozen=True)
class Plan:
    tables: tuple[TablePlan, ...]
    secret: bytes = field(repr=False)
    seed: int = 0
    locale: str = "en_US"
    target_mode: str = "truncate"
    batch_size: int = 10_000
    key_version: str = ""  # which workflow-secret version keyed the deterministic masking
    # Share of identifying values a masked column may leave unchanged (0: none), and whether
    # a column over it fails the run or only flags it in the report.
    leak_max_share: float = 0.0
    leak_action: str = "fail"
    # Copy a referentially whole subset of the source instead of every row (masking.subset).
    subset: Subset | None = None

    def __post_init__(self) -> None:
        if self.target_mode not in TARGET_MODES:
            raise ValueError(f"target_mode must be one of {', '.join(TARGET_MODES)}")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not isinstance(self.secret, bytes | bytearray):
            raise TypeError("secret must be bytes")
        if self.leak_action not in LEAK_ACTIONS:
            raise ValueError(f"leak_action must be one of {', '.join(LEAK_ACTIONS)}")
        if not 0.0 <= self.leak_max_share <= 1.0:
            raise ValueError("leak_max_share must be between 0 and 1")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able snapshot; the secret is deliberately left out."""
        data = {
            "tables": [t.to_dict() for t in self.tables],
            "seed": self.seed,
            "locale": self.locale,
            "target_mode": self.target_mode,
            "batch_size": self.batch_size,
            "key_version": self.key_version,
            "leak_max_share": self.leak_max_share,
            "leak_action": self.leak_action,
        }
        if self.subset is not None:  # absent otherwise, so earlier snapshots hash the same
            data["subset"] = self.subset.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, secret: bytes) -> Plan:
        return cls(
            tables=tuple(TablePlan.from_dict(t) for t in data.get("tables") or ()),
            secret=secret,
            seed=int(data.get("seed", 0)),
            locale=data.get("locale") or "en_US",
            target_mode=data.get("target_mode") or "truncate",
            batch_size=int(data.get("batch_size") or 10_000),
            key_version=data.get("key_version") or "",
            leak_max_share=float(data.get("leak_max_share") or 0.0),
            leak_action=data.get("leak_action") or "fail",
            subset=Subset.from_dict(data.get("subset")),
        )


def canonical_json(plan: Plan) -> str:
    return json.dumps(
        plan.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def plan_hash(plan: Plan) -> str:
    """SHA-256 (hex) of the canonical JSON snapshot; equal plans hash equal, secrets aside."""
    return hashlib.sha256(canonical_json(plan).encode("utf-8")).hexdigest()
