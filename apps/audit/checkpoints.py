"""Verifying the audit chain against its signed checkpoints.

`verify_since_checkpoint` is what pages and the API show: the last checkpoint whose signature
holds, the event it names still carrying the link it signed, and the events after it walked
link by link. It reads at most AUDIT_CHECKPOINT_EVERY events, whatever the chain's length.
`verify_full` walks the whole chain (a management command or a background task) and checks
every checkpoint against it, so a truncated tail is found even where the head was rewritten."""

from __future__ import annotations

from apps.audit import keys
from apps.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from apps.audit.services import (
    ChainStatus,
    _walk_from,
    audit_verify_chain,
    checkpoint_message,
)


def _signed(cp: AuditCheckpoint) -> bool:
    expected = keys.sign(cp.key_id, checkpoint_message(cp.seq, cp.hash))
    return expected is not None and expected == cp.signature


def _against_chain(cp: AuditCheckpoint, head_seq: int) -> ChainStatus | None:
    """A problem between checkpoint `cp` and the chain as it is now (None: consistent)."""
    if not _signed(cp):
        return ChainStatus(False, 0, cp.seq, f"the checkpoint at event #{cp.seq} is forged")
    if head_seq < cp.seq:
        return ChainStatus(
            False, 0, head_seq + 1, f"events after #{head_seq} were deleted (checkpoint #{cp.seq})"
        )
    event = AuditEvent.objects.filter(seq=cp.seq).only("hash").first()
    if event is None:
        return ChainStatus(False, 0, cp.seq, f"event #{cp.seq} named by a checkpoint is missing")
    if event.hash != cp.hash:
        return ChainStatus(False, 0, cp.seq, f"events up to #{cp.seq} were rewritten")
    return None


def _head_seq() -> int:
    head = AuditChainHead.objects.filter(id=1).first()
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    return min(head.seq if head else 0, last)


def verify_since_checkpoint() -> ChainStatus:
    checkpoint = AuditCheckpoint.objects.order_by("-seq", "-pk").first()
    if checkpoint is None:
        return audit_verify_chain()
    problem = _against_chain(checkpoint, _head_seq())
    if problem is not None:
        return problem
    broken = _walk_from(checkpoint.seq + 1, checkpoint.hash)
    if broken is not None:
        return broken
    head = AuditChainHead.objects.get(id=1)
    return ChainStatus(True, head.seq - checkpoint.seq)


def verify_full() -> ChainStatus:
    status = audit_verify_chain()
    if not status.ok:
        return status
    head_seq = _head_seq()
    for checkpoint in AuditCheckpoint.objects.order_by("-seq").iterator(chunk_size=500):
        problem = _against_chain(checkpoint, head_seq)
        if problem is not None and not _pruned(checkpoint):
            return ChainStatus(False, status.checked, problem.broken_seq, problem.reason)
    return status


def _pruned(cp: AuditCheckpoint) -> bool:
    """Checkpoints before the first kept event (pruned by retention) name events that are gone
    on purpose; the pruning anchor vouches for that cut."""
    first = AuditEvent.objects.order_by("seq").values_list("seq", flat=True).first()
    return first is not None and cp.seq < first and _signed(cp)
