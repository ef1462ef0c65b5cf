"""Append-only, keyed hash-chained audit trail.

Each event stores the link (an HMAC under a key outside the database, see keys.py) of the
previous one; the chain head (last sequence number and hash) is
kept in its own row, so an edited, deleted, re-ordered or appended-out-of-band event is detected.
"""

from django.db import models


class AppendOnlyError(Exception):
    pass


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events cannot be updated")

    def delete(self):
        raise AppendOnlyError("audit events cannot be deleted")


class AuditEvent(models.Model):
    class Status(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        DENIED = "denied", "Denied"
        ERROR = "error", "Error"

    seq = models.BigIntegerField(unique=True)
    timestamp = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_username = models.CharField(max_length=150, blank=True, default="")
    role = models.CharField(max_length=20, blank=True, default="")
    action = models.CharField(max_length=64, db_index=True)
    resource_type = models.CharField(max_length=64, blank=True, default="")
    resource_id = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, db_index=True)
    ip = models.CharField(max_length=64, blank=True, default="")
    user_agent = models.CharField(max_length=256, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)  # HMAC-SHA256 under the key `key_id` names
    key_id = models.CharField(max_length=32, default="")

    objects = AuditQuerySet.as_manager()

    class Meta:
        db_table = "audit_events"
        ordering = ["-seq"]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("audit events cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events cannot be deleted")

    @property
    def resource(self) -> str:
        if self.resource_type and self.resource_id:
            return f"{self.resource_type}:{self.resource_id}"
        return self.resource_type


class AuditChainHead(models.Model):
    """A single row: the last event's sequence number and hash. Locked while appending."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        db_table = "audit_chain_head"


class AuditCheckpoint(models.Model):
    """A signed statement that the chain had reached event `seq`, whose link was `hash`.
    Written every AUDIT_CHECKPOINT_EVERY events and on demand, and sent to the
    `maskflow.audit.checkpoint` logger, which can ship it out of the database (syslog), so that
    deleting the chain's tail, or the checkpoints themselves, is detected."""

    seq = models.BigIntegerField(db_index=True)
    hash = models.CharField(max_length=64)
    key_id = models.CharField(max_length=32)
    signature = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "audit_checkpoints"
        ordering = ["-seq"]
