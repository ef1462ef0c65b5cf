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
    "preflight": "masking.checks",
    "check": "masking.checks",
    "Checked": "masking.checks",
    "run": "masking.engine",
    "connect": "masking.engine",
    "RunResult": "masking.pipeline",
    "TableResult": "masking.pipeline",
    "LeakCheck": "masking.pipeline",
    "Problem": "masking.checks",
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
    "ConnectionFailed": "masking.errors",
    "PreflightFailed": "masking.errors",
    "ValidationFailed": "masking.errors",
    "ParamError": "masking.errors",
    # connections and introspection
    "ConnectionParams": "masking.dialects.base",
    "TestResult": "masking.dialects.base",
    "TableInfo": "masking.schema",
    "database_error": "masking.dberrors",
    "detect_table": "masking.detect",
    # what a plan would do to a few sample rows, and the PII suggestions
    "preview": "masking.samples",
    "staging_tables": "masking.staging",
    "created_foreign_keys": "masking.targets",
    "suggest": "masking.samples",
    # row filters
    "RowFilterError": "masking.rowfilter",
    "validate_row_filter": "masking.rowfilter",
    # the technique catalogue
    "LOCALES": "masking.techniques.registry",
    "MaskContext": "masking.techniques.registry",
    "catalogue": "masking.techniques.registry",
    "get_technique": "masking.techniques.registry",
    "techniques_for": "masking.techniques.registry",
    "validate_params": "masking.techniques.registry",
    "fits_column": "masking.techniques.registry",
    "make_masker": "masking.techniques.masker",
    "unmask": "masking.techniques.masker",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from masking.checks import Checked, Problem, check, preflight
    from masking.consistency import consistency_groups
    from masking.dberrors import database_error
    from masking.detect import detect_table
    from masking.dialects.base import ConnectionParams, TestResult
    from masking.engine import connect, run
    from masking.errors import (
        Cancelled,
        ConnectionFailed,
        MaskingError,
        ParamError,
        PreflightFailed,
        TerminalError,
        TransientError,
        ValidationFailed,
    )
    from masking.pipeline import LeakCheck, RunResult, TableResult
    from masking.plan import ColumnRule, Plan, TablePlan, plan_hash
    from masking.progress import NullProgress, Progress, ProgressUpdate
    from masking.rowfilter import RowFilterError, validate_row_filter
    from masking.samples import preview, suggest
    from masking.schema import ColumnSpec, TableInfo
    from masking.staging import staging_tables
    from masking.subset.engine import SubsetCount
    from masking.subset.engine import estimate as subset_estimate
    from masking.subset.spec import Relationship, Subset, SubsetRoot
    from masking.targets import created_foreign_keys
    from masking.techniques.masker import make_masker, unmask
    from masking.techniques.registry import (
        LOCALES,
        MaskContext,
        catalogue,
        fits_column,
        get_technique,
        techniques_for,
        validate_params,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'masking' has no attribute '{name}'")
    attr = "estimate" if name == "subset_estimate" else name
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value
