"""A workflow as submitted, checked before it is saved. Here: the form-level checks (names,
choices, connections, the shape of the mappings). Every table, column, rule and key is checked
by the engine's one validator, `masking.check`, whose problems become field errors
(`problem_fields`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apps.connections.models import Connection
from apps.connections.services import connection_open
from apps.workflows import shapes
from apps.workflows.models import TargetMode, Workflow, WorkflowStatus
from masking import LOCALES


class WorkflowInvalid(Exception):
    def __init__(self, issues: list[dict]):
        self.issues = issues
        super().__init__("; ".join(f"{i['field']}: {i['issue']}" for i in issues))


@dataclass
class CleanWorkflow:
    name: str
    description: str
    status: str
    target_mode: str
    locale: str
    source: Connection
    target: Connection
    mappings: list[dict]


def workflow_clean(data: dict[str, Any], *, instance: Workflow | None = None) -> CleanWorkflow:
    issues = shapes.Issues()
    text = shapes.text
    name = text(data, "name")
    others = Workflow.objects.filter(name__iexact=name).exclude(pk=getattr(instance, "pk", None))
    if not name:
        issues.add("name", "This field is required.")
    elif len(name) > 100:
        issues.add("name", "Ensure this field has no more than 100 characters.")
    elif others.exists():
        issues.add("name", "A workflow with this name already exists.")
    description = text(data, "description")
    if len(description) > 2000:
        issues.add("description", "Ensure this field has no more than 2000 characters.")
    status = text(data, "status") or WorkflowStatus.ACTIVE
    if status not in WorkflowStatus.values:
        issues.add("status", "Choose active or inactive.")
    target_mode = text(data, "target_mode") or TargetMode.TRUNCATE
    if target_mode not in TargetMode.values:
        issues.add("target_mode", f"Choose one of: {', '.join(TargetMode.values)}.")
    locale = text(data, "locale") or "en_US"
    if locale not in LOCALES:
        issues.add("locale", f"Choose one of: {', '.join(LOCALES)}.")
    source, target = (shapes.connection(data, key, issues) for key in shapes.CONNECTION_KEYS)
    if source and target and (source.pk == target.pk or source.identity() == target.identity()):
        issues.add("target_connection_id", "Source and target must be different databases.")
        target = None
    mappings = data.get("mappings")
    if not isinstance(mappings, list) or not mappings:
        issues.add("mappings", "Map at least one table.")
        mappings = []
    cleaned: list[dict] = []
    if source and target and mappings:
        with connection_open(source) as src, connection_open(target) as tgt:
            cleaned = _checked(mappings, src, tgt, target_mode, locale, issues)
    if issues:
        raise WorkflowInvalid(issues.items)
    return CleanWorkflow(name, description, status, target_mode, locale, source, target, cleaned)


def _checked(mappings: list, src, tgt, target_mode: str, locale: str, issues) -> list[dict]:  # type: ignore[no-untyped-def]
    """The mappings in the stored shape, once the engine finds nothing wrong with them."""
    form, checked = shapes.check_mappings(
        mappings, src, tgt, issues, target_mode=target_mode, locale=locale
    )
    if issues:
        return []
    return [f.stored(checked.source_of(f.table.label), src) for f in form]
