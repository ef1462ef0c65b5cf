"""Notifications: add and remove them, and tell their recipients that a run ended.

A run's end enqueues `maskflow.notify_execution` (after the commit that ended it). The task
records one Delivery per matching notification and sends it: e-mail through Django's mail
backend, a webhook as a JSON POST signed with the notification's secret:

    X-Maskflow-Timestamp: <unix seconds>
    X-Maskflow-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
    X-Maskflow-Delivery: <delivery id>

A webhook's URL must be allowed by NOTIFY_WEBHOOK_ALLOWED_HOSTS, at save and again at each
send; the checked address is the one called (a plain-http name re-resolving elsewhere still
reaches it; over https the certificate must name the host). Timeouts, connection errors and
5xx, 408 and 429 answers are retried with backoff (2, 4, 8… s, NOTIFY_WEBHOOK_RETRIES times).
Nothing a notification says holds a data value, and a failing notification never touches the
run: it is only recorded on its delivery."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import secrets
import ssl
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.audit.services import audit_record
from apps.connections.hostpolicy import HostRefused
from apps.connections.hostpolicy import check as host_check
from apps.core.permissions import can_modify
from apps.executions.models import Execution, ExecutionStatus
from apps.notifications.models import Channel, Delivery, Notification, When

logger = logging.getLogger("maskflow.notifications")
MAX_EMAILS = 20
RETRYABLE = {408, 429}


class NotificationInvalid(Exception):
    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def _webhook_address(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path?query) of an allowed webhook URL; HostRefused or ValueError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("Give an http:// or https:// URL.")
    if parts.username or parts.password:
        raise ValueError("Put no credentials in the URL; the signature authenticates the call.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def _allowed(host: str, port: int, *, must_resolve: bool) -> list:
    return host_check(
        host,
        port,
        must_resolve=must_resolve,
        allowed_setting="NOTIFY_WEBHOOK_ALLOWED_HOSTS",
        denied_setting="NOTIFY_WEBHOOK_DENIED_HOSTS",
        policy="webhook",
        allow_list_required=True,
    )


def notification_clean(channel: str, when: str, target: str) -> dict:
    """The fields to store, or NotificationInvalid naming each bad field."""
    errors: dict[str, str] = {}
    if channel not in Channel.values:
        errors["channel"] = "Choose email or webhook."
    if when not in When.values:
        errors["when"] = "Choose success, failure or both."
    target = str(target or "").strip()
    fields: dict = {"channel": channel, "when": when}
    if channel == Channel.EMAIL:
        emails = [e.strip() for e in target.replace(";", ",").split(",") if e.strip()]
        if not emails:
            errors["target"] = "Give one or more e-mail addresses, separated by commas."
        elif len(emails) > MAX_EMAILS:
            errors["target"] = f"At most {MAX_EMAILS} addresses."
        else:
            try:
                for e in emails:
                    validate_email(e)
            except ValidationError:
                errors["target"] = "One of the addresses is not a valid e-mail address."
        fields["emails"] = ",".join(emails)
    elif channel == Channel.WEBHOOK:
        if len(target) > 500:
            errors["target"] = "At most 500 characters."
        else:
            try:
                _, host, port, _ = _webhook_address(target)
                # the worker sends: a name this process cannot resolve is checked again there
                _allowed(host, port, must_resolve=False)
            except (ValueError, HostRefused) as exc:
                errors["target"] = str(exc)
        fields["url"] = target
    if errors:
        raise NotificationInvalid(errors)
    return fields


def notification_create(
    *, workflow, by, channel: str, when: str, target: str, request=None
) -> tuple[Notification, str]:
    """The notification and, for a webhook, its signing secret (shown this once)."""
    if not can_modify(by, workflow):
        raise PermissionDenied("Only the workflow's owner or an administrator can add this.")
    fields = notification_clean(channel, when, target)
    secret = secrets.token_urlsafe(32) if channel == Channel.WEBHOOK else ""
    with transaction.atomic():
        notification = Notification(workflow=workflow, created_by=by, **fields)
        if secret:
            notification.set_secret(secret)
        notification.save()
        _audit("notification.create", notification, by, request)
    return notification, secret


def notification_delete(*, notification: Notification, by, request=None) -> None:
    if not can_modify(by, notification.workflow):
        raise PermissionDenied("Only the workflow's owner or an administrator can remove this.")
    with transaction.atomic():
        _audit("notification.delete", notification, by, request)
        notification.delete()


def _audit(action: str, notification: Notification, by, request) -> None:
    where = (
        urlsplit(notification.url).hostname
        if notification.channel == Channel.WEBHOOK
        else f"{len(notification.emails.split(','))} address(es)"
    )
    audit_record(
        action=action,
        request=request,
        actor=by,
        resource_type="notification",
        resource_id=notification.pk,
        details={
            "workflow_id": notification.workflow_id,
            "channel": notification.channel,
            "when": notification.when,
            "to": where,
        },
    )


# --- a run ended --------------------------------------------------------------------------------
def _matches(when: str, status: str) -> bool:
    if when == When.BOTH:
        return True
    if when == When.SUCCESS:
        return status == ExecutionStatus.SUCCESS
    return status in (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)


def notify_end(execution_id: int) -> None:
    """Called where a run ends: hand the notifications to a worker once that end is committed.
    Never raises into the run."""

    def enqueue() -> None:
        from apps.notifications.tasks import notify_execution

        try:
            notify_execution.delay(execution_id)
        except Exception:  # a broker outage costs the notification, never the run's record
            logger.warning("execution %s: notifications not queued", execution_id, exc_info=True)

    try:
        if Notification.objects.filter(
            workflow__executions__pk=execution_id, enabled=True
        ).exists():
            transaction.on_commit(enqueue)
    except Exception:
        logger.warning("execution %s: notifications not looked up", execution_id, exc_info=True)


def payload(execution: Execution) -> dict:
    """What a notification says: names, status, counts, duration and a link; never a value."""
    started, finished = execution.started_at, execution.finished_at
    duration = (finished - started).total_seconds() if started and finished else None
    base = settings.MASKFLOW_BASE_URL.rstrip("/")
    return {
        "event": "execution.finished",
        "execution": {
            "id": execution.pk,
            "status": execution.status,
            "trigger": execution.trigger,
            "rows_processed": execution.rows_processed,
            "rows_masked": execution.rows_masked,
            "duration_seconds": round(duration, 3) if duration is not None else None,
            "started_at": started.isoformat() if started else None,
            "finished_at": finished.isoformat() if finished else None,
            "url": base + reverse("executions:detail", args=[execution.pk]),
        },
        "workflow": {"id": execution.workflow_id, "name": execution.workflow.name},
        # engine messages name tables, columns and rules, never a value (outcome.safe_message)
        "error": execution.error_message or None,
    }


def notifications_send(*, execution_id: int) -> list[int]:
    """Record every matching notification of an ended run (once per run) and send its
    e-mails; returns the webhook deliveries to make (tasks.deliver_webhook_task)."""
    execution = Execution.objects.select_related("workflow").get(pk=execution_id)
    if execution.status not in (
        ExecutionStatus.SUCCESS,
        ExecutionStatus.FAILED,
        ExecutionStatus.CANCELLED,
    ):
        return []
    done = set(
        Delivery.objects.filter(execution=execution).values_list("notification_id", flat=True)
    )
    webhooks = []
    for n in Notification.objects.filter(workflow_id=execution.workflow_id, enabled=True):
        if n.pk in done or not _matches(n.when, execution.status):
            continue
        delivery = Delivery.objects.create(
            execution=execution, notification=n, channel=n.channel, target=n.target[:500]
        )
        if n.channel == Channel.EMAIL:
            _send_email(delivery, n, execution)
        else:
            webhooks.append(delivery.pk)
    return webhooks


def _send_email(delivery: Delivery, n: Notification, execution: Execution) -> None:
    body = payload(execution)
    run = body["execution"]
    lines = [
        f"Workflow: {execution.workflow.name}",
        f"Execution #{execution.pk}: {execution.status}",
        f"Rows processed: {run['rows_processed']}, masked: {run['rows_masked']}",
        f"Duration: {run['duration_seconds']} s" if run["duration_seconds"] is not None else "",
        f"Error: {body['error']}" if body["error"] else "",
        f"Details: {run['url']}",
    ]
    subject = f"[Maskflow] {execution.workflow.name}: {execution.status}"
    try:
        send_mail(
            subject[:200],
            "\n".join(line for line in lines if line),
            None,
            n.emails.split(","),
            fail_silently=False,
        )
    except Exception as exc:  # the mail server's answer is its own; keep the class only
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.FAILED, attempts=1, error=type(exc).__name__
        )
        return
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.SENT, attempts=1, sent_at=timezone.now()
    )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _post(url: str, body: bytes, headers: dict) -> int:
    """POST to the allowed address `url` names; the HTTP status."""
    scheme, host, port, path = _webhook_address(url)
    addresses = _allowed(host, port, must_resolve=True)
    timeout = settings.NOTIFY_WEBHOOK_TIMEOUT
    if scheme == "https":  # TLS checks the name: a rebound address has no certificate for it
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:  # the checked address, whatever the name resolves to now
        conn = http.client.HTTPConnection(str(addresses[0]), port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers={"Host": f"{host}:{port}", **headers})
        response = conn.getresponse()
        response.read(64 * 1024)
        return response.status
    finally:
        conn.close()


def deliver_webhook(*, delivery_id: int) -> float | None:
    """One attempt; the seconds to wait before the next one, or None when it is settled."""
    delivery = Delivery.objects.select_related("notification", "execution__workflow").get(
        pk=delivery_id
    )
    n = delivery.notification
    if delivery.status != Delivery.Status.PENDING:
        return None
    if n is None:  # removed meanwhile
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.FAILED, error="notification removed"
        )
        return None
    attempt = delivery.attempts + 1
    body = json.dumps(payload(delivery.execution), sort_keys=True).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Maskflow-Webhook/1",
        "X-Maskflow-Timestamp": stamp,
        "X-Maskflow-Signature": sign(n.get_secret(), stamp, body),
        "X-Maskflow-Delivery": str(delivery.pk),
    }
    code, error, retry = None, "", False
    try:
        code = _post(n.url, body, headers)
    except HostRefused as exc:
        error = str(exc)[:300]
    except ValueError as exc:
        error = str(exc)[:300]
    except (OSError, http.client.HTTPException) as exc:
        error, retry = type(exc).__name__, True
    if code is not None and 200 <= code < 300:
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.SENT, attempts=attempt, response_code=code, error="",
            sent_at=timezone.now(),
        )  # fmt: skip
        return None
    if code is not None:
        error, retry = f"HTTP {code}", code >= 500 or code in RETRYABLE
    last = attempt > settings.NOTIFY_WEBHOOK_RETRIES or not retry
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.FAILED if last else Delivery.Status.PENDING,
        attempts=attempt,
        response_code=code,
        error=error,
    )
    if not last:
        logger.info("delivery %s: %s, retrying", delivery.pk, error)
    return None if last else float(2**attempt)
