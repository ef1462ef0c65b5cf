"""The keyed audit chain: a database-only attacker cannot forge it; keys rotate; an existing
plain-hash chain is re-keyed once on upgrade."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.audit import keys
from apps.audit.models import AuditChainHead, AuditEvent
from apps.audit.services import audit_record, audit_verify_chain, canonical

pytestmark = pytest.mark.django_db(transaction=True)


def _key(kid: str, fill: bytes) -> str:
    return f"{kid}:{base64.b64encode(fill * 32).decode()}"


def _record(n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        audit_record(action="test.event", resource_type="thing", resource_id=i, details={"n": i})


def _rewrite_from(seq: int, link) -> None:  # type: ignore[no-untyped-def]
    """The attacker's rewrite: edit event `seq`, then recompute every later link and the head
    with `link(event) -> hex`, in raw SQL."""
    with connection.cursor() as cur:
        cur.execute("UPDATE audit_events SET details = %s WHERE seq = %s", ['{"n": 999}', seq])
    prev = AuditEvent.objects.get(seq=seq).prev_hash
    for event in AuditEvent.objects.filter(seq__gte=seq).order_by("seq"):
        event.prev_hash = prev
        new = link(event)
        with connection.cursor() as cur:
            cur.execute(
                "UPDATE audit_events SET prev_hash = %s, hash = %s WHERE seq = %s",
                [prev, new, event.seq],
            )
        prev = new
    AuditChainHead.objects.filter(id=1).update(hash=prev)


def test_a_rewrite_with_correct_sha256_but_no_key_fails():
    _record(10)
    assert audit_verify_chain().ok
    _rewrite_from(4, lambda e: hashlib.sha256(canonical(e).encode()).hexdigest())
    status = audit_verify_chain()
    assert not status.ok and status.broken_seq == 4


def test_a_rewrite_under_a_guessed_key_fails():
    _record(6)
    guess = b"\x00" * 32
    _rewrite_from(2, lambda e: hmac.new(guess, canonical(e).encode(), hashlib.sha256).hexdigest())
    assert audit_verify_chain().broken_seq == 2


def test_a_rewrite_with_the_key_verifies_so_the_key_must_stay_outside():
    """The control: the same rewrite under the real key passes, which is why the key lives in
    the environment or a file, not in the database."""
    _record(6)
    _rewrite_from(2, lambda e: keys.sign(e.key_id, canonical(e)))
    assert audit_verify_chain().ok


def test_rotation_new_key_signs_old_keys_verify(settings):
    settings.AUDIT_HMAC_KEYS = _key("k1", b"a")
    _record(3)
    settings.AUDIT_HMAC_KEYS = f"{_key('k2', b'b')},{_key('k1', b'a')}"
    _record(3, 3)
    assert list(AuditEvent.objects.order_by("seq").values_list("key_id", flat=True)) == [
        "k1", "k1", "k1", "k2", "k2", "k2",
    ]  # fmt: skip
    assert audit_verify_chain().ok
    settings.AUDIT_HMAC_KEYS = _key("k2", b"b")  # k1 dropped too early
    status = audit_verify_chain()
    assert status.broken_seq == 1 and "'k1', which is not configured" in status.reason


@pytest.mark.parametrize(
    "bad", ["", "k1", "k1:not-base64!", "k1:" + base64.b64encode(b"x" * 8).decode()]
)
def test_bad_keys_are_a_configuration_error(settings, bad):
    from django.core.exceptions import ImproperlyConfigured

    settings.AUDIT_HMAC_KEYS = bad
    with pytest.raises(ImproperlyConfigured):
        keys.signing_keys()


def _plain_chain(executor_apps, n: int, *, break_at: int | None = None) -> None:
    """Events as the previous release wrote them: plain SHA-256 links, no key id."""
    Event = executor_apps.get_model("audit", "AuditEvent")
    Head = executor_apps.get_model("audit", "AuditChainHead")
    from django.utils import timezone

    prev = "0" * 64
    for seq in range(1, n + 1):
        e = Event(seq=seq, timestamp=timezone.now(), action="old.event", status="success",
                  details={"n": seq}, prev_hash=prev)  # fmt: skip
        fields = {
            "seq": e.seq, "timestamp": e.timestamp.isoformat(timespec="microseconds"),
            "actor_id": None, "actor_username": "", "role": "", "action": e.action,
            "resource_type": "", "resource_id": "", "status": e.status, "ip": "",
            "user_agent": "", "details": e.details, "prev_hash": prev,
        }  # fmt: skip
        text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        e.hash = hashlib.sha256(text.encode()).hexdigest()
        if seq == break_at:
            e.details = {"n": -1}  # tampered before the upgrade
        e.save()
        prev = e.hash
    Head.objects.update_or_create(id=1, defaults={"seq": n, "hash": prev})


def _migrate(target):  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    executor.loader.build_graph()
    return executor.loader.project_state([target]).apps


def _migrate_to_latest() -> None:
    """Every app back at its last migration: later tests need the whole schema."""
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_upgrade_rekeys_the_old_chain_once_and_records_it():
    old_apps = _migrate(("audit", "0001_initial"))
    try:
        _plain_chain(old_apps, 7)
        _migrate(("audit", "0002_keyed_chain"))
        status = audit_verify_chain()
        assert status.ok and status.checked == 8
        last = AuditEvent.objects.order_by("-seq").first()
        assert last.action == "audit.rekeyed" and last.details["events"] == 7
        _record(1)  # the chain goes on from there
        assert audit_verify_chain().ok
    finally:
        _migrate_to_latest()


def test_upgrade_refuses_to_launder_a_broken_chain():
    old_apps = _migrate(("audit", "0001_initial"))
    try:
        _plain_chain(old_apps, 5, break_at=3)
        with pytest.raises(RuntimeError, match="broken at event #3"):
            _migrate(("audit", "0002_keyed_chain"))
    finally:
        with connection.cursor() as cur:
            cur.execute("DELETE FROM audit_events")
            cur.execute("DELETE FROM audit_chain_head")
        _migrate_to_latest()
