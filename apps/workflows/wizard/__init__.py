"""The workflow wizard: four steps (steps.py, the last in target.py) and their HTMX partials
(partials.py, subset.py)."""

from apps.workflows.wizard.partials import (
    columns_partial,
    preview_partial,
    row_count_partial,
    rule_row_partial,
    tables_partial,
)
from apps.workflows.wizard.steps import step_basics, step_rules, step_tables
from apps.workflows.wizard.subset import subset_estimate_partial
from apps.workflows.wizard.target import step_target

__all__ = [
    "columns_partial",
    "preview_partial",
    "row_count_partial",
    "rule_row_partial",
    "step_basics",
    "step_rules",
    "step_tables",
    "step_target",
    "subset_estimate_partial",
    "tables_partial",
]
