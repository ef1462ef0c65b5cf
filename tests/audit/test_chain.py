import pytest
from django.core.management import call_command
from django.db import connection

from apps.audit.models import AppendOnlyError, AuditEvent
from apps.audit.services import audit_record, audit_verify_chain

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(owner):
    for i in range(5):
        audit_record(
            action="test.event", actor=owner, resource_type="thing", resource_id=i, details={"n": i}
        )
    return list(AuditEvent.objects.order_by("seq"))


def run_verify():
    try:
        call_command("verify_audit")
    except SystemExit as exc:  # pragma: no cover - CommandError maps to SystemExit only via argv
        return exc.code
    except Exception as exc:
        return exc
    return 0


def test_events_link_by_hash(chain):
    assert chain[0].prev_hash == "0" * 64
    for prev, event in zip(chain, chain[1:], strict=False):
        assert event.prev_hash == prev.hash and event.seq == prev.seq + 1
    assert audit_verify_chain().ok and audit_verify_chain().checked == 5


def test_append_only_through_the_app(chain):
    event = chain[0]
    event.action = "changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


def _sql(query, params=()):
    with connection.cursor() as cur:
        cur.execute(query, params)


@pytest.mark.parametrize(
    "tamper, broken",
    [
        (lambda c: _sql("UPDATE audit_events SET details = %s WHERE seq = 3", ['{"n": 99}']), 3),
        (lambda c: _sql("UPDATE audit_events SET actor_username = 'mallory' WHERE seq = 1"), 1),
        (lambda c: _sql("DELETE FROM audit_events WHERE seq = 2"), 2),
        (lambda c: _sql("DELETE FROM audit_events WHERE seq = 5"), 5),
        (lambda c: _sql("UPDATE audit_events SET seq = 99 WHERE seq = 4"), 4),
    ],
    ids=["edit-details", "edit-actor", "delete-middle", "delete-last", "reorder"],
)
def test_tampering_is_detected(chain, tamper, broken):
    tamper(chain)
    status = audit_verify_chain()
    assert status.ok is False and status.broken_seq == broken
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit")
    assert excinfo.value.returncode == 1 and f"#{broken}" in str(excinfo.value)


def test_inserted_forged_event_is_detected(chain):
    last = chain[-1]
    _sql(
        "INSERT INTO audit_events (seq, timestamp, actor_id, actor_username, role, action, "
        "resource_type,"
        " resource_id, status, ip, user_agent, details, prev_hash, hash, key_id)"
        " VALUES (6, %s, NULL, 'mallory', '', 'forged', '', '', 'success', '', '', '{}', %s, %s,"
        " 'dev')",
        [last.timestamp, last.hash, "f" * 64],
    )
    assert audit_verify_chain().broken_seq == 6


def test_verify_command_ok(chain, capsys):
    call_command("verify_audit")
    assert "audit chain OK: 5 events verified" in capsys.readouterr().out


def test_details_are_scrubbed_of_secrets_and_pii(owner):
    event = audit_record(
        action="test.scrub",
        actor=owner,
        details={
            "password": "hunter2",
            "note": "mail bob@example.com",
            "nested": {"api_token": "abc"},
        },
    )
    assert event.details == {
        "password": "[REDACTED]",
        "note": "mail [EMAIL]",
        "nested": {"api_token": "[REDACTED]"},
    }
    assert audit_verify_chain().ok
