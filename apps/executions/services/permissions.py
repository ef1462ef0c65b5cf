"""Who may start and who may cancel a run (seed 8.4)."""

from __future__ import annotations

from apps.core.permissions import can_modify, is_admin
from apps.executions.models import Execution


def can_execute(user, workflow) -> bool:
    """Admins run any workflow; users only the workflows they created (seed 8.4)."""
    return bool(user and user.is_authenticated) and can_modify(user, workflow)


def can_cancel(user, execution: Execution) -> bool:
    return bool(user and user.is_authenticated) and (
        is_admin(user) or execution.executed_by_id == user.pk
    )
