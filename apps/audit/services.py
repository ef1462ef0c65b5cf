"""The one way to record an audit event, and the chain verifier."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.audit import keys
from apps.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from apps.core.logging import redact_text

logger = logging.getLogger("maskflow.audit")
checkpoint_log = logging.getLogger("maskflow.audit.checkpoint")

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


def event_fields(event: AuditEvent) -> dict:
    """Everything the hash covers: the event's content and its link to the previous event."""
    return {
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
        "key_id": event.key_id,
    }


def canonical(event: AuditEvent) -> str:
    return json.dumps(event_fields(event), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def compute_hash(event: AuditEvent) -> str:
    """The event's link: HMAC-SHA256 of its canonical form under its key ("" if that key is
    not configured, which never matches a stored link)."""
    return keys.sign(event.key_id, canonical(event)) or ""


def _altered(event: AuditEvent) -> str:
    if keys.sign(event.key_id, "") is None:
        return f"event #{event.seq} is signed with key {event.key_id!r}, which is not configured"
    return f"event #{event.seq} was altered"


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
            resource_id=("" if resource_id is None else str(resource_id))[:64],
            status=status,
            ip=client_ip(request),
            user_agent=redact_text(user_agent),
            details=clean_details,
            prev_hash=head.hash,
            key_id=keys.current_key_id(),
        )
        event.hash = compute_hash(event)
        event.save()
        head.seq, head.hash = event.seq, event.hash
        head.save(update_fields=["seq", "hash"])
        every = int(getattr(settings, "AUDIT_CHECKPOINT_EVERY", 1000) or 0)
        if every > 0 and event.seq % every == 0:
            write_checkpoint(event.seq, event.hash)
    return event


def checkpoint_message(seq: int, link: str) -> str:
    return f"maskflow-audit-checkpoint:{seq}:{link}"


def write_checkpoint(seq: int, link: str) -> AuditCheckpoint:
    """Sign "the chain reached `seq` with link `link`", store it and log it."""
    kid = keys.current_key_id()
    checkpoint = AuditCheckpoint.objects.create(
        seq=seq,
        hash=link,
        key_id=kid,
        signature=keys.sign(kid, checkpoint_message(seq, link)) or "",
        created_at=timezone.now(),
    )
    checkpoint_log.info(
        "audit checkpoint seq=%s hash=%s key_id=%s signature=%s",
        seq,
        link,
        kid,
        checkpoint.signature,
    )
    return checkpoint


def audit_checkpoint_now() -> AuditCheckpoint | None:
    """A checkpoint at the current head (on demand); None while the chain is empty."""
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().filter(id=1).first()
        if head is None or head.seq == 0:
            return None
        return write_checkpoint(head.seq, head.hash)


@dataclass(frozen=True)
class ChainStatus:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str = ""


ANCHOR_ACTION = "audit.anchor"


def _anchored_starts() -> dict[int, str]:
    """first_kept_seq -> prev_hash it must carry, from every pruning anchor still in the trail.

    An anchor is an ordinary chained event appended *before* older events are deleted; its details
    name the first event kept and the hash that event links to. The anchor itself is verified by
    the walk like any other event, so a forged or edited anchor breaks the chain."""
    starts: dict[int, str] = {}
    for details in AuditEvent.objects.filter(action=ANCHOR_ACTION).values_list(
        "details", flat=True
    ):
        if isinstance(details, dict):
            try:
                starts[int(details["first_kept_seq"])] = str(details["first_kept_prev_hash"])
            except (KeyError, TypeError, ValueError):
                continue
    return starts


def audit_verify_chain() -> ChainStatus:
    """Walk the chain in sequence order; report the first broken link.

    The walk starts at event #1 (linking to the genesis hash) or, after pruning, at the first
    surviving event, which must be exactly the one a pruning anchor later in the chain names
    (same sequence number and same link to the deleted predecessor)."""
    prev_hash = None
    expected_seq = None
    checked = 0
    starts: dict[int, str] | None = None
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        if prev_hash is None:
            if event.seq == 1:
                prev_hash, expected_seq = GENESIS, 1
            else:
                starts = _anchored_starts()
                if starts.get(event.seq) == event.prev_hash:
                    prev_hash, expected_seq = event.prev_hash, event.seq
                else:
                    missing = max((s for s in starts if s < event.seq), default=1)
                    unanchored = ChainStatus(
                        False,
                        0,
                        missing,
                        f"event #{missing} is missing (events before #{event.seq} were "
                        "deleted without a pruning anchor)",
                    )
                    # An edited anchor is the likelier cause: report it if the rest shows one.
                    later = _walk_from(event.seq, event.prev_hash)
                    return (
                        later if later is not None and later.broken_seq != event.seq else unanchored
                    )
        if event.seq != expected_seq:
            return ChainStatus(False, checked, expected_seq, f"event #{expected_seq} is missing")
        if event.prev_hash != prev_hash:
            return ChainStatus(
                False, checked, event.seq, f"event #{event.seq} does not link to its predecessor"
            )
        if compute_hash(event) != event.hash:
            return ChainStatus(False, checked, event.seq, _altered(event))
        prev_hash = event.hash
        expected_seq = event.seq + 1
        checked += 1
    head = AuditChainHead.objects.filter(id=1).first()
    if head is not None:
        last_seq = (expected_seq - 1) if expected_seq is not None else 0
        if head.seq != last_seq or (checked and head.hash != prev_hash):
            return ChainStatus(
                False, checked, last_seq + 1, f"events after #{last_seq} are missing"
            )
    return ChainStatus(True, checked)


def _walk_from(seq: int, prev_hash: str) -> ChainStatus | None:
    """The first broken link from `seq` on, taking `prev_hash` as given (None: no break)."""
    checked = 0
    for event in AuditEvent.objects.filter(seq__gte=seq).order_by("seq").iterator(chunk_size=2000):
        if event.seq != seq:
            return ChainStatus(False, checked, seq, f"event #{seq} is missing")
        if event.prev_hash != prev_hash:
            return ChainStatus(
                False, checked, event.seq, f"event #{event.seq} does not link to its predecessor"
            )
        if compute_hash(event) != event.hash:
            return ChainStatus(False, checked, event.seq, _altered(event))
        prev_hash, seq, checked = event.hash, event.seq + 1, checked + 1
    head = AuditChainHead.objects.filter(id=1).first()
    if head is not None and head.seq != seq - 1:
        return ChainStatus(False, checked, seq, f"events after #{seq - 1} are missing")
    return None


class PruneRefused(Exception):
    """The chain does not verify: pruning would destroy the evidence, so nothing is deleted."""


@dataclass(frozen=True)
class PruneResult:
    deleted: int
    first_kept_seq: int
    anchor_seq: int | None


def audit_prune(*, days: int, actor_username: str = "cli") -> PruneResult:
    """Delete events older than `days` days, keeping the rest verifiable.

    1. The whole chain must verify first (an edited event cannot be pruned out of sight).
    2. Under the chain-head lock, an `audit.anchor` event is appended naming the first kept
       event and the hash it links to (the hash of the last deleted event), plus the range.
    3. Events before the first kept one are deleted with one raw DELETE (the privileged path:
       the model's QuerySet refuses deletes)."""
    from datetime import timedelta

    from django.db import connection

    if days < 0:
        raise ValueError("days must be zero or more")
    status = audit_verify_chain()
    if not status.ok:
        raise PruneRefused(
            f"audit chain BROKEN at event #{status.broken_seq}: {status.reason}; nothing pruned"
        )
    cutoff = timezone.now() - timedelta(days=days)
    with transaction.atomic():
        # The head lock is held until commit: no event can be appended between choosing the
        # first kept event and writing the anchor (audit_record re-locks it in a savepoint).
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(id=1)
        first_kept = (
            AuditEvent.objects.filter(timestamp__gte=cutoff)
            .order_by("seq")
            .values_list("seq", "prev_hash")
            .first()
        )
        oldest = AuditEvent.objects.order_by("seq").values_list("seq", flat=True).first()
        if oldest is None or (first_kept is not None and first_kept[0] <= oldest):
            return PruneResult(0, oldest or 0, None)
        if first_kept is None:  # everything is older: the anchor itself is the first kept event
            first_kept = (head.seq + 1, head.hash)
        first_kept_seq, first_kept_prev_hash = first_kept
        anchor = audit_record(
            action=ANCHOR_ACTION,
            actor_username=actor_username,
            resource_type="audit",
            details={
                "first_kept_seq": first_kept_seq,
                "first_kept_prev_hash": first_kept_prev_hash,
                "pruned_from_seq": oldest,
                "pruned_to_seq": first_kept_seq - 1,
                "retention_days": days,
                "cutoff": cutoff.isoformat(),
            },
        )
        table = connection.ops.quote_name(AuditEvent._meta.db_table)
        with connection.cursor() as cur:
            cur.execute(f"DELETE FROM {table} WHERE seq < %s", [first_kept_seq])  # noqa: S608 - quoted name
            deleted = cur.rowcount
    logger.info(
        "audit trail pruned: %s events before #%s removed; anchor #%s",
        deleted,
        first_kept_seq,
        anchor.seq,
    )
    return PruneResult(deleted, first_kept_seq, anchor.seq)
