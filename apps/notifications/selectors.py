from __future__ import annotations

from apps.notifications.models import Delivery, Notification


def notification_output(n: Notification) -> dict:
    """Never the secret: it is shown once, when the webhook is created."""
    return {
        "id": n.pk,
        "workflow_id": n.workflow_id,
        "channel": n.channel,
        "when": n.when,
        "target": n.target,
        "enabled": n.enabled,
        "owner": n.created_by.username,
        "created_at": n.created_at.isoformat(),
    }


def delivery_output(d: Delivery) -> dict:
    return {
        "id": d.pk,
        "channel": d.channel,
        "target": d.target,
        "status": d.status,
        "attempts": d.attempts,
        "response_code": d.response_code,
        "error": d.error,
        "created_at": d.created_at.isoformat(),
        "sent_at": d.sent_at.isoformat() if d.sent_at else None,
    }


def workflow_notifications(*, workflow) -> list[Notification]:
    return list(Notification.objects.filter(workflow=workflow).select_related("created_by"))


def execution_deliveries(*, execution) -> list[Delivery]:
    return list(Delivery.objects.filter(execution=execution).order_by("pk"))
