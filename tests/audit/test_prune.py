from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import audit_prune, audit_record, audit_verify_chain

pytestmark = pytest.mark.django_db


def _sql(query, params=()):
    with connection.cursor() as cur:
        cur.execute(query, params)


def _record_at(monkeypatch, when, n, action="test.old"):
    monkeypatch.setattr(timezone, "now", lambda: when)
    for i in range(n):
        audit_record(action=action, actor_username="tester", details={"i": i})
    monkeypatch.undo()


@pytest.fixture
def aged_trail(monkeypatch):
    """Events 1-4 are 400 days old, 5-7 are 100 days old, 8-9 are recent."""
    now = timezone.now()
    _record_at(monkeypatch, now - timedelta(days=400), 4)
    _record_at(monkeypatch, now - timedelta(days=100), 3, "test.mid")
    _record_at(monkeypatch, now, 2, "test.new")
    assert audit_verify_chain().ok
    return now


def _seqs():
    return list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))


def test_prune_then_verify_ok(aged_trail, capsys):
    call_command("prune_audit", "--days", "365")
    assert "pruned 4 audit events" in capsys.readouterr().out
    assert _seqs() == [5, 6, 7, 8, 9, 10]
    anchor = AuditEvent.objects.get(seq=10)
    assert anchor.action == "audit.anchor"
    assert anchor.details["first_kept_seq"] == 5 and anchor.details["pruned_from_seq"] == 1
    assert anchor.details["pruned_to_seq"] == 4
    assert anchor.details["first_kept_prev_hash"] == AuditEvent.objects.get(seq=5).prev_hash
    status = audit_verify_chain()
    assert status.ok and status.checked == 6
    call_command("verify_audit")
    # appending after a prune keeps the chain valid
    audit_record(action="test.after", actor_username="tester")
    assert audit_verify_chain().ok


def test_prune_twice_and_default_days(aged_trail, settings):
    settings.AUDIT_RETENTION_DAYS = 365
    call_command("prune_audit")
    assert _seqs()[0] == 5
    audit_prune(days=30)
    assert _seqs() == [8, 9, 10, 11]
    assert audit_verify_chain().ok and audit_verify_chain().checked == 4


def test_prune_everything_leaves_the_anchor_first(aged_trail):
    result = audit_prune(days=0)
    assert result.deleted == 9 and _seqs() == [10] and result.first_kept_seq == 10
    assert audit_verify_chain().ok


def test_nothing_to_prune_changes_nothing(aged_trail, capsys):
    call_command("prune_audit", "--days", "1000")
    assert "unchanged" in capsys.readouterr().out and _seqs() == list(range(1, 10))


def test_normal_queryset_still_refuses_deletes(aged_trail):
    from apps.audit.models import AppendOnlyError

    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(seq__lt=3).delete()


@pytest.mark.parametrize(
    "tamper, broken",
    [
        (lambda: _sql("UPDATE audit_events SET details = '{\"i\": 9}' WHERE seq = 6"), 6),
        (lambda: _sql("DELETE FROM audit_events WHERE seq = 7"), 7),
        (lambda: _sql("DELETE FROM audit_events WHERE seq = 5"), 5),
        (
            lambda: _sql(
                "UPDATE audit_events SET details = '{\"first_kept_seq\": 6}' WHERE seq = 10"
            ),
            10,
        ),
        (lambda: _sql("DELETE FROM audit_events WHERE seq = 10"), 10),
    ],
    ids=["edit-kept", "delete-kept", "delete-first-kept", "forge-anchor", "delete-anchor"],
)
def test_prune_then_tamper_is_detected(aged_trail, tamper, broken):
    audit_prune(days=365)
    tamper()
    status = audit_verify_chain()
    assert status.ok is False and status.broken_seq == broken, status


def test_deleting_old_events_without_an_anchor_is_detected(aged_trail):
    _sql("DELETE FROM audit_events WHERE seq < 5")
    status = audit_verify_chain()
    assert status.ok is False and status.broken_seq == 1 and "pruning anchor" in status.reason


def test_deleting_more_than_a_prune_did_is_detected(aged_trail):
    audit_prune(days=365)
    _sql("DELETE FROM audit_events WHERE seq < 8")
    status = audit_verify_chain()
    assert status.ok is False and status.broken_seq == 5


def test_pruning_cannot_hide_an_edit(aged_trail):
    # an old event (due for pruning) is edited: prune refuses, deletes nothing, and the edit
    # stays visible
    _sql("UPDATE audit_events SET actor_username = 'mallory' WHERE seq = 2")
    with pytest.raises(CommandError) as excinfo:
        call_command("prune_audit", "--days", "365")
    assert "#2" in str(excinfo.value) and "nothing pruned" in str(excinfo.value)
    assert _seqs() == list(range(1, 10))
    assert audit_verify_chain().broken_seq == 2
    # the same for a surviving event edited before the prune
    _sql("UPDATE audit_events SET actor_username = 'tester' WHERE seq = 2")
    assert audit_verify_chain().ok
    _sql("UPDATE audit_events SET actor_username = 'mallory' WHERE seq = 8")
    with pytest.raises(CommandError):
        call_command("prune_audit", "--days", "365")
    assert _seqs() == list(range(1, 10)) and audit_verify_chain().broken_seq == 8


def test_negative_days_refused(aged_trail):
    with pytest.raises(CommandError):
        call_command("prune_audit", "--days", "-1")
