"""Workflow writes. Every save goes through validation.workflow_clean first."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from apps.audit.services import audit_record
from apps.workflows.leakpolicy import leak_policy_apply, leak_policy_clean
from apps.workflows.models import TableMapping, Workflow, WorkflowStatus
from apps.workflows.readerlimit import readers_clean
from apps.workflows.subsetting import subset_clean
from apps.workflows.validation import WorkflowInvalid, workflow_clean

MAPPING_FIELDS = (
    "source_schema",
    "source_table",
    "target_schema",
    "target_table",
    "create_target",
    "copy_unmapped",
    "row_filter",
    "column_mappings",
)


def _rules(mappings) -> dict[str, dict]:
    """column key -> rule, for change tracking in the audit trail (techniques and params only)."""
    out = {}
    for m in mappings:
        table = f"{m['source_schema']}.{m['source_table']}"
        for cm in m["column_mappings"]:
            out[f"{table}.{cm['source_column']}"] = {
                "technique": cm["technique"],
                "params": cm.get("params", {}),
                "deterministic": cm.get("deterministic", True),
            }
    return out


def mapping_changes(before: list[dict], after: list[dict]) -> list[dict]:
    old, new = _rules(before), _rules(after)
    changes = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            changes.append({"column": key, "from": old.get(key), "to": new.get(key)})
    return changes


def _mappings_as_dicts(workflow: Workflow) -> list[dict]:
    return [
        {f: getattr(m, f) for f in MAPPING_FIELDS}
        for m in workflow.mappings.order_by("position", "pk")
    ]


def _write_mappings(workflow: Workflow, mappings: list[dict]) -> None:
    workflow.mappings.all().delete()
    TableMapping.objects.bulk_create(
        TableMapping(workflow=workflow, position=i, **{f: m[f] for f in MAPPING_FIELDS})
        for i, m in enumerate(mappings)
    )


@transaction.atomic
def workflow_create(*, data: dict[str, Any], by, request=None) -> Workflow:
    clean = workflow_clean(data)
    leak_share, leak_action = leak_policy_clean(data)
    readers = readers_clean(data)
    subset = subset_clean(data, source=clean.source, mappings=clean.mappings)
    workflow = Workflow(
        subset=subset,
        max_source_readers=readers,
        leak_max_share=leak_share,
        leak_action=leak_action,
        name=clean.name,
        description=clean.description,
        status=clean.status,
        target_mode=clean.target_mode,
        locale=clean.locale,
        source_connection=clean.source,
        target_connection=clean.target,
        created_by=by,
    )
    workflow.new_secret()
    try:
        workflow.save()
    except IntegrityError:
        raise WorkflowInvalid(
            [{"field": "name", "issue": "A workflow with this name already exists."}]
        ) from None
    _write_mappings(workflow, clean.mappings)
    audit_record(
        action="workflow.create",
        request=request,
        actor=by,
        resource_type="workflow",
        resource_id=workflow.pk,
        details={
            "name": workflow.name,
            "tables": len(clean.mappings),
            "rules": mapping_changes([], clean.mappings),
        },
    )
    return workflow


@transaction.atomic
def workflow_update(*, workflow: Workflow, data: dict[str, Any], by, request=None) -> Workflow:
    before = _mappings_as_dicts(workflow)
    before_fields = {
        f: getattr(workflow, f)
        for f in (
            "name",
            "description",
            "status",
            "target_mode",
            "locale",
            "source_connection_id",
            "target_connection_id",
            "leak_max_share",
            "leak_action",
            "subset",
            "max_source_readers",
        )
    }
    clean = workflow_clean(data, instance=workflow)
    leak_policy_apply(workflow, data)
    workflow.max_source_readers = readers_clean(data, workflow)
    workflow.subset = subset_clean(
        data, source=clean.source, mappings=clean.mappings, instance=workflow
    )
    workflow.name, workflow.description, workflow.status = (
        clean.name,
        clean.description,
        clean.status,
    )
    workflow.target_mode, workflow.locale = clean.target_mode, clean.locale
    workflow.source_connection, workflow.target_connection = clean.source, clean.target
    workflow.save()
    _write_mappings(workflow, clean.mappings)
    after_fields = {f: getattr(workflow, f) for f in before_fields}
    audit_record(
        action="workflow.update",
        request=request,
        actor=by,
        resource_type="workflow",
        resource_id=workflow.pk,
        details={
            "name": workflow.name,
            "fields": {
                k: {"from": before_fields[k], "to": v}
                for k, v in after_fields.items()
                if before_fields[k] != v
            },
            "mapping_changes": mapping_changes(before, clean.mappings),
        },
    )
    return workflow


@transaction.atomic
def workflow_delete(*, workflow: Workflow, by, request=None) -> None:
    pk, name = workflow.pk, workflow.name
    workflow.delete()
    audit_record(
        action="workflow.delete",
        request=request,
        actor=by,
        resource_type="workflow",
        resource_id=pk,
        details={"name": name},
    )


@transaction.atomic
def workflow_set_status(*, workflow: Workflow, status: str, by, request=None) -> Workflow:
    if status not in WorkflowStatus.values:
        raise WorkflowInvalid([{"field": "status", "issue": "Choose active or inactive."}])
    if workflow.status != status:
        workflow.status = status
        workflow.save(update_fields=["status", "updated_at"])
        action = "workflow.activate" if status == WorkflowStatus.ACTIVE else "workflow.deactivate"
        audit_record(
            action=action,
            request=request,
            actor=by,
            resource_type="workflow",
            resource_id=workflow.pk,
            details={"name": workflow.name},
        )
    return workflow


@transaction.atomic
def workflow_rotate_key(*, workflow: Workflow, by, request=None) -> Workflow:
    """Replace the workflow's masking key: every masked output of later runs changes (joins
    inside each run still hold). Earlier executions keep the key version they ran with."""
    before = workflow.key_version
    workflow.new_secret()
    workflow.secret_version += 1
    workflow.save(update_fields=["secret_encrypted", "secret_version", "updated_at"])
    audit_record(
        action="workflow.rotate_key",
        request=request,
        actor=by,
        resource_type="workflow",
        resource_id=workflow.pk,
        details={"name": workflow.name, "key_version": workflow.key_version, "previous": before},
    )
    return workflow


def workflow_as_input(workflow: Workflow) -> dict[str, Any]:
    """The API/wizard input shape of a saved workflow (for editing)."""
    return {
        "name": workflow.name,
        "description": workflow.description,
        "status": workflow.status,
        "target_mode": workflow.target_mode,
        "locale": workflow.locale,
        "leak_max_share": workflow.leak_max_share,
        "leak_action": workflow.leak_action,
        "max_source_readers": workflow.max_source_readers,
        "subset": workflow.subset,
        "source_connection_id": workflow.source_connection_id,
        "target_connection_id": workflow.target_connection_id,
        "mappings": _mappings_as_dicts(workflow),
    }
