"""Signed checkpoints: a truncated tail is detected even with the head rewritten; pages check
from the last checkpoint only."""

from __future__ import annotations

import logging

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from apps.audit.checkpoints import verify_full, verify_since_checkpoint
from apps.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from apps.audit.services import audit_record
from apps.audit.tasks import audit_verify_full

pytestmark = pytest.mark.django_db


def _record(n: int) -> None:
    for i in range(n):
        audit_record(action="test.event", resource_type="thing", resource_id=i)


def test_a_checkpoint_every_n_events_signed_and_logged(settings, caplog):
    settings.AUDIT_CHECKPOINT_EVERY = 10
    caplog.set_level(logging.INFO, logger="maskflow.audit.checkpoint")
    _record(25)
    assert list(AuditCheckpoint.objects.order_by("seq").values_list("seq", flat=True)) == [10, 20]
    assert caplog.text.count("audit checkpoint seq=") == 2
    cp = AuditCheckpoint.objects.get(seq=20)
    assert cp.hash == AuditEvent.objects.get(seq=20).hash and len(cp.signature) == 64
    status = verify_since_checkpoint()
    assert status.ok and status.checked == 5


def test_deleting_the_last_100_events_is_detected_from_the_checkpoint(settings):
    settings.AUDIT_CHECKPOINT_EVERY = 100
    _record(250)
    with connection.cursor() as cur:
        cur.execute("DELETE FROM audit_events WHERE seq > 150")
    last = AuditEvent.objects.get(seq=150)
    AuditChainHead.objects.filter(id=1).update(seq=150, hash=last.hash)  # head rewritten too
    for status in (verify_full(), verify_since_checkpoint()):
        assert not status.ok and "deleted" in status.reason, status
    with pytest.raises(CommandError):
        call_command("verify_audit", "--since-checkpoint")
    assert audit_verify_full()["ok"] is False


def test_a_forged_checkpoint_is_detected(settings):
    settings.AUDIT_CHECKPOINT_EVERY = 5
    _record(12)
    AuditCheckpoint.objects.filter(seq=10).update(signature="0" * 64)
    status = verify_since_checkpoint()
    assert not status.ok and "forged" in status.reason


def test_a_rewritten_event_before_the_checkpoint_is_caught_by_the_full_check(settings):
    settings.AUDIT_CHECKPOINT_EVERY = 5
    _record(12)
    with connection.cursor() as cur:
        cur.execute("UPDATE audit_events SET action = 'x' WHERE seq = 3")
    assert verify_since_checkpoint().ok  # pages look from the checkpoint on: by design
    full = verify_full()
    assert not full.ok and full.broken_seq == 3


def test_on_demand_checkpoint_and_the_page_checks_from_it(settings, page, admin_user):
    settings.AUDIT_CHECKPOINT_EVERY = 0
    _record(30)
    call_command("verify_audit", "--checkpoint")
    assert AuditCheckpoint.objects.get().seq == AuditChainHead.objects.get(id=1).seq
    _record(4)
    response = page(admin_user).get("/audit/")
    assert response.status_code == 200
    chain = response.context["chain"]
    assert chain.ok and chain.checked == 5  # the 4 new events and the login's own
