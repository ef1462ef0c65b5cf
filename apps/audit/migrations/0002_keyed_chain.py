"""The audit chain becomes keyed: every link is re-signed once, in order, with the first key of
AUDIT_HMAC_KEYS, and the re-keying is itself recorded as the chain's next event.

The chain is verified as it was (plain SHA-256 links) before anything is rewritten: a chain that
was already broken is not re-signed, since that would launder the tampering. The first surviving
event keeps the link to its pruned predecessor, so pruning anchors stay valid."""

import hashlib
import json

from django.db import migrations, models
from django.utils import timezone


def _fields(event, with_key: bool) -> dict:
    fields = {
        "seq": event.seq,
        "timestamp": event.timestamp.isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor_username": event.actor_username,
        "role": event.role,
        "action": event.action,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "status": event.status,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    if with_key:
        fields["key_id"] = event.key_id
    return fields


def _canonical(fields: dict) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def rekey(apps, schema_editor):
    from apps.audit import keys

    Event = apps.get_model("audit", "AuditEvent")
    Head = apps.get_model("audit", "AuditChainHead")
    kid = keys.current_key_id()
    prev = None
    count = 0
    for event in Event.objects.order_by("seq").iterator(chunk_size=2000):
        old = hashlib.sha256(_canonical(_fields(event, False)).encode()).hexdigest()
        if old != event.hash or (prev is not None and event.prev_hash != prev[0]):
            raise RuntimeError(
                f"audit chain broken at event #{event.seq}: not re-keyed; run verify_audit "
                "on the previous release and investigate before upgrading"
            )
        new_prev = event.prev_hash if prev is None else prev[1]
        event.prev_hash, event.key_id = new_prev, kid
        new = keys.sign(kid, _canonical(_fields(event, True)))
        Event.objects.filter(pk=event.pk).update(prev_hash=new_prev, key_id=kid, hash=new)
        prev = (old, new)
        count += 1
    if prev is None:
        return
    head = Head.objects.get(id=1)
    if head.seq != event.seq or head.hash != prev[0]:
        raise RuntimeError("audit chain head does not match its last event: not re-keyed")
    marker = Event(
        seq=head.seq + 1,
        timestamp=timezone.now(),
        actor_username="migration",
        action="audit.rekeyed",
        status="success",
        details={"events": count, "key_id": kid},
        prev_hash=prev[1],
        key_id=kid,
    )
    marker.hash = keys.sign(kid, _canonical(_fields(marker, True)))
    marker.save()
    Head.objects.filter(id=1).update(seq=marker.seq, hash=marker.hash)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(default="", max_length=32),
        ),
        migrations.RunPython(rekey, migrations.RunPython.noop),
    ]
