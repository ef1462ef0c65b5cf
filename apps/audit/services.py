"""The one way to record an audit event, and the chain verifier."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.audit.models import AuditChainHead, AuditEvent
from apps.core.logging import redact_text

logger = logging.getLogger("maskflow.audit")

GENESIS = "0" * 64
_SECRET_KEYS = ("password", "secret", "token", "key", "authorization", "cookie")


def _scrub(value: Any, key: str = "") -> Any:
    """Details never carry secrets or personal data: drop secret-looking keys, redact text."""
    if any(s in key.lower() for s in _SECRET_KEYS) and key.lower() not in {"key_version", "key_id"}:
        return "[REDACTED]"
    if isinstance(value, dict):
        return {str(k): _scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v, key) for v in value]
    if isinstance(value, str):
        return redact_text(value)[:2000]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact_text(str(value))[:2000]


def canonical(event: AuditEvent) -> str:
    payload = {
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
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def compute_hash(event: AuditEvent) -> str:
    return hashlib.sha256(canonical(event).encode()).hexdigest()


def client_ip(request) -> str:
    if request is None:
        return ""
    return (request.META.get("REMOTE_ADDR") or "")[:64]


def audit_record(
    *,
    action: str,
    status: str = AuditEvent.Status.SUCCESS,
    request=None,
    actor=None,
    actor_username: str = "",
    resource_type: str = "",
    resource_id: Any = "",
    details: dict | None = None,
) -> AuditEvent:
    """Append one event to the chain. Every app records through this function."""
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user
    user_agent = request.META.get("HTTP_USER_AGENT", "")[:256] if request is not None else ""
    # JSON round-trip so the stored value is exactly what the hash was computed over.
    clean_details = json.loads(json.dumps(_scrub(details or {}), default=str))
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(id=1)
        event = AuditEvent(
            seq=head.seq + 1,
            timestamp=timezone.now(),
            actor_id=getattr(actor, "pk", None),
            actor_username=(getattr(actor, "username", "") or actor_username)[:150],
            role=getattr(actor, "role", "") or "",
            action=action,
            resource_type=resource_type,
            resource_id=str(resource_id or "")[:64],
            status=status,
            ip=client_ip(request),
            user_agent=redact_text(user_agent),
            details=clean_details,
            prev_hash=head.hash,
        )
        event.hash = compute_hash(event)
        event.save()
        head.seq, head.hash = event.seq, event.hash
        head.save(update_fields=["seq", "hash"])
    return event


@dataclass(frozen=True)
class ChainStatus:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str = ""


def audit_verify_chain() -> ChainStatus:
    """Walk the chain in sequence order; report the first broken link."""
    prev_hash = None
    expected_seq = None
    checked = 0
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        if prev_hash is None:
            # The first surviving event may follow a pruning anchor; it starts the walk.
            prev_hash = event.prev_hash if event.action == "audit.anchor" else GENESIS
            expected_seq = event.seq if event.action == "audit.anchor" else 1
        if event.seq != expected_seq:
            return ChainStatus(False, checked, expected_seq, f"event #{expected_seq} is missing")
        if event.prev_hash != prev_hash:
            return ChainStatus(False, checked, event.seq, f"event #{event.seq} does not link to its predecessor")
        if compute_hash(event) != event.hash:
            return ChainStatus(False, checked, event.seq, f"event #{event.seq} was altered")
        prev_hash = event.hash
        expected_seq = event.seq + 1
        checked += 1
    head = AuditChainHead.objects.filter(id=1).first()
    if head is not None:
        last_seq = (expected_seq - 1) if expected_seq is not None else 0
        if head.seq != last_seq or (checked and head.hash != prev_hash):
            return ChainStatus(False, checked, last_seq + 1, f"events after #{last_seq} are missing")
    return ChainStatus(True, checked)
