"""A workflow's leak policy: how many identifying values a masked column may leave unchanged
(`leak_max_share`, 0 to 1, default 0) and what a column over it does to a run
(`leak_action`: fail the run, or flag it in red in the report)."""

from __future__ import annotations

from typing import Any

from apps.workflows.models import LeakAction, Workflow
from apps.workflows.validation import WorkflowInvalid


def leak_policy_clean(data: dict[str, Any], instance: Workflow | None = None) -> tuple[float, str]:
    share = data.get("leak_max_share", instance.leak_max_share if instance else 0.0)
    action = data.get("leak_action", instance.leak_action if instance else LeakAction.FAIL)
    issues = []
    if share in (None, ""):
        share = 0.0
    try:
        if isinstance(share, bool):
            raise ValueError
        share = float(share)
        if not 0.0 <= share <= 1.0:
            raise ValueError
    except (TypeError, ValueError):
        issues.append({"field": "leak_max_share", "issue": "Must be a number from 0 to 1."})
    if action not in LeakAction.values:
        issues.append(
            {"field": "leak_action", "issue": f"Choose one of: {', '.join(LeakAction.values)}."}
        )
    if issues:
        raise WorkflowInvalid(issues)
    return share, action


def leak_policy_apply(workflow: Workflow, data: dict[str, Any]) -> None:
    """Set the policy from `data` (fields it lacks keep their value); the caller saves."""
    workflow.leak_max_share, workflow.leak_action = leak_policy_clean(data, workflow)
