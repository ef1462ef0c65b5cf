"""A workflow's limit on the units that read its source at once (runs split into units)."""

from __future__ import annotations

from typing import Any

from apps.workflows.models import Workflow
from apps.workflows.validation import WorkflowInvalid

MAX = 1000


def readers_clean(data: dict[str, Any], instance: Workflow | None = None) -> int | None:
    """The limit to store: a whole number from 1 to 1000, or None (the install's default)."""
    raw = data.get("max_source_readers", instance.max_source_readers if instance else None)
    if raw in (None, "", 0, "0"):
        return None
    try:
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ValueError
        value = int(raw)
        if not 1 <= value <= MAX:
            raise ValueError
    except (TypeError, ValueError):
        raise WorkflowInvalid(
            [{"field": "max_source_readers", "issue": f"A whole number from 1 to {MAX}, or empty."}]
        ) from None
    return value
