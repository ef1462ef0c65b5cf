"""Re-runs with one masking key give identical targets; a rotated key changes every masked
value, and each execution records the key version it ran with."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.executions import services
from apps.executions.models import ExecutionStatus
from apps.workflows.models import Workflow
from apps.workflows.services import workflow_rotate_key
from tests.executions.scenario import dump

pytestmark = pytest.mark.django_db


def _run(workflow: Workflow, owner):  # type: ignore[no-untyped-def]
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    done = services.execution_run(execution_id=execution.pk)
    assert done is not None and done.status == ExecutionStatus.SUCCESS, done.error_message
    return done


def test_same_key_same_target_rotated_key_new_values(scenario, owner) -> None:
    workflow, _, tgt = scenario
    first = _run(workflow, owner)
    copy = dump(tgt, "customers")
    again = _run(workflow, owner)
    assert dump(tgt, "customers") == copy  # byte-identical, row for row
    assert again.key_version == first.key_version == workflow.key_version
    assert first.key_version.startswith("v1-")

    workflow_rotate_key(workflow=workflow, by=owner)
    workflow.refresh_from_db()
    assert workflow.key_version.startswith("v2-") and workflow.key_version != first.key_version
    rotated = _run(workflow, owner)
    assert rotated.key_version == workflow.key_version
    assert rotated.report["key_version"] == workflow.key_version
    after = dump(tgt, "customers")
    assert [r[0] for r in after] == [r[0] for r in copy]  # same rows, keys kept
    assert all(a[1] != b[1] for a, b in zip(after, copy, strict=True))  # every e-mail changed
    [event] = AuditEvent.objects.filter(action="workflow.rotate_key")
    assert event.details["previous"] == first.key_version
    assert event.details["key_version"] == workflow.key_version
    assert event.actor_id == owner.pk


def test_key_version_survives_re_encryption_of_the_secret(scenario, owner, settings) -> None:
    """The version names the masking key, not the field key that encrypts it at rest."""
    import base64

    from apps.core import crypto

    workflow, _, _ = scenario
    before = workflow.key_version
    new_key = "k9:" + base64.b64encode(b"\x07" * 32).decode()
    settings.FIELD_ENCRYPTION_KEYS = f"{new_key},{settings.FIELD_ENCRYPTION_KEYS}"
    workflow.secret_encrypted = crypto.encrypt(
        workflow.get_secret().hex(), associated="workflows.Workflow.secret_encrypted"
    )
    workflow.save()
    workflow.refresh_from_db()
    assert crypto.key_id_of(workflow.secret_encrypted) == "k9"  # re-encrypted under a new key
    assert workflow.key_version == before
