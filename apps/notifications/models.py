"""Who hears that a run ended: per workflow, e-mail addresses or a signed webhook, on success,
on failure or both; and every delivery with its outcome, shown on the execution's page."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core import crypto

SECRET_FIELD = "secret_encrypted"
crypto.register_encrypted_field("notifications.Notification", SECRET_FIELD)


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    WEBHOOK = "webhook", "Webhook"


class When(models.TextChoices):
    SUCCESS = "success", "On success"
    FAILURE = "failure", "On failure (failed or cancelled)"
    BOTH = "both", "On every end"


class Notification(models.Model):
    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="notifications"
    )
    channel = models.CharField(max_length=20, choices=Channel.choices)
    when = models.CharField(max_length=20, choices=When.choices, default=When.FAILURE)
    emails = models.TextField(blank=True, default="")  # comma-separated, e-mail channel
    url = models.CharField(max_length=500, blank=True, default="")  # webhook channel
    # The webhook's signing secret, encrypted like every secret; shown once, at creation.
    secret_encrypted = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "notifications"
        ordering = ["pk"]

    def set_secret(self, raw: str) -> None:
        self.secret_encrypted = crypto.encrypt(
            raw, associated=f"notifications.Notification.{SECRET_FIELD}"
        )

    def get_secret(self) -> str:
        if not self.secret_encrypted:
            return ""
        return crypto.decrypt(
            self.secret_encrypted, associated=f"notifications.Notification.{SECRET_FIELD}"
        )

    @property
    def target(self) -> str:
        """What the page shows: the addresses, or the URL without query or credentials."""
        if self.channel == Channel.EMAIL:
            return self.emails
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    execution = models.ForeignKey(
        "executions.Execution", on_delete=models.CASCADE, related_name="deliveries"
    )
    notification = models.ForeignKey(
        Notification, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    channel = models.CharField(max_length=20, choices=Channel.choices)
    target = models.CharField(max_length=500)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "notification_deliveries"
        ordering = ["pk"]
