"""Maskflow masking engine. Never imports Django.

Public API: build a `Plan` of `TablePlan`s and `ColumnRule`s, check it with `preflight()`, and
execute it with `run()`, which reports through a `Progress` and returns a `RunResult`.

Names are imported on first use, so `import masking.schema` (or a dialect) does not pull in the
whole pipeline and its dependencies."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Plan": "masking.plan",
    "TablePlan": "masking.plan",
    "ColumnRule": "masking.plan",
    "plan_hash": "masking.plan",
    "preflight": "masking.pipeline",
    "run": "masking.engine",
    "connect": "masking.engine",
    "RunResult": "masking.pipeline",
    "TableResult": "masking.pipeline",
    "LeakCheck": "masking.pipeline",
    "Problem": "masking.pipeline",
    "ColumnSpec": "masking.schema",
    "Subset": "masking.subset.spec",
    "SubsetRoot": "masking.subset.spec",
    "Relationship": "masking.subset.spec",
    "SubsetCount": "masking.subset.engine",
    "subset_estimate": "masking.subset.engine",
    "consistency_groups": "masking.consistency",
    "Progress": "masking.progress",
    "NullProgress": "masking.progress",
    "ProgressUpdate": "masking.progress",
    "MaskingError": "masking.errors",
    "TerminalError": "masking.errors",
    "TransientError": "masking.errors",
    "Cancelled": "masking.errors",
    "PreflightFailed": "masking.errors",
    "ValidationFailed": "masking.errors",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from masking.consistency import consistency_groups
    from masking.engine import connect, run
    from masking.errors import (
        Cancelled,
        MaskingError,
        PreflightFailed,
        TerminalError,
        TransientError,
        ValidationFailed,
    )
    from masking.pipeline import LeakCheck, Problem, RunResult, TableResult, preflight
    from masking.plan import ColumnRule, Plan, TablePlan, plan_hash
    from masking.progress import NullProgress, Progress, ProgressUpdate
    from masking.schema import ColumnSpec
    from masking.subset.engine import SubsetCount
    from masking.subset.engine import estimate as subset_estimate
    from masking.subset.spec import Relationship, Subset, SubsetRoot


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'masking' has no attribute '{name}'")
    attr = "estimate" if name == "subset_estimate" else name
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value
