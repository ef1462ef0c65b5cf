"""Notifications when a run ends: a signed webhook received by a local HTTP server for a real
success and a real failure, retries with backoff, the allow-list at save and at send, e-mail
through the locmem backend, and nothing in any of them that is a data value."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

from apps.audit.models import AuditEvent
from apps.executions import services as executions
from apps.executions.models import ExecutionStatus
from apps.notifications import services
from apps.notifications.models import Delivery, Notification
from tests.executions.scenario import make_workflow
from tests.executions.test_services import EXISTING, UNIQUE_CITY_SCHEMA, source_values

pytestmark = pytest.mark.django_db


class Receiver:
    """A local webhook endpoint answering the given status codes in turn (then 200)."""

    def __init__(self, codes: list[int] | None = None):
        self.codes = list(codes or [])
        self.calls: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.codes.pop(0) if receiver.codes else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/maskflow?team=qa"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.NOTIFY_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    made: list[Receiver] = []

    def make(codes=None) -> Receiver:
        made.append(Receiver(codes))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def eager():
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def run(workflow, owner, capture):  # type: ignore[no-untyped-def]
    execution = executions.execution_start(workflow=workflow, by=owner, enqueue=False)
    with capture(execute=True):
        return executions.execution_run(execution_id=execution.pk)


def verify(secret: str, headers: dict, body: bytes) -> bool:
    expected = services.sign(secret, headers["x-maskflow-timestamp"], body)
    return headers["x-maskflow-signature"] == expected


@pytest.mark.parametrize("outcome", ["success", "failed"])
def test_a_signed_webhook_for_a_success_and_a_failure(
    tmp_path, owner, receiver, eager, django_capture_on_commit_callbacks, outcome, settings
):
    settings.MASKFLOW_BASE_URL = "https://maskflow.example.org/"
    kw = {"target_schema": UNIQUE_CITY_SCHEMA, "target_rows": EXISTING, "batch_size": 10}
    workflow, _, _ = make_workflow(tmp_path, owner, **(kw if outcome == "failed" else {}))
    hook = receiver()
    notification, secret = services.notification_create(
        workflow=workflow, by=owner, channel="webhook", when="both", target=hook.url
    )
    done = run(workflow, owner, django_capture_on_commit_callbacks)
    assert done.status == outcome
    [(headers, body)] = hook.calls
    assert verify(secret, headers, body)
    assert not verify("another-secret", headers, body)
    assert headers["x-maskflow-delivery"] == str(Delivery.objects.get().pk)
    data = json.loads(body)
    assert data["event"] == "execution.finished" and data["workflow"]["name"] == workflow.name
    assert data["execution"]["status"] == outcome and data["execution"]["id"] == done.pk
    assert data["execution"]["url"] == f"https://maskflow.example.org/executions/{done.pk}/"
    assert data["execution"]["rows_processed"] == done.rows_processed
    assert data["execution"]["duration_seconds"] >= 0
    assert (data["error"] is None) == (outcome == "success")
    text = body.decode()
    assert not [v for v in source_values() if v in text]  # no data value in the payload
    delivery = Delivery.objects.get(execution=done)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("sent", 1, 200)
    assert notification.get_secret() == secret and secret not in notification.secret_encrypted


def test_only_matching_ends_are_told(
    tmp_path, owner, receiver, eager, django_capture_on_commit_callbacks
):
    workflow, _, _ = make_workflow(tmp_path, owner)
    hook = receiver()
    services.notification_create(
        workflow=workflow, by=owner, channel="webhook", when="failure", target=hook.url
    )
    assert run(workflow, owner, django_capture_on_commit_callbacks).status == "success"
    assert hook.calls == [] and not Delivery.objects.exists()


def test_a_5xx_is_retried_with_backoff_and_a_4xx_is_not(
    tmp_path, owner, receiver, eager, django_capture_on_commit_callbacks, settings
):
    workflow, _, _ = make_workflow(tmp_path, owner)
    flaky, gone = receiver([500, 503]), receiver([404])
    for hook in (flaky, gone):
        services.notification_create(
            workflow=workflow, by=owner, channel="webhook", when="success", target=hook.url
        )
    done = run(workflow, owner, django_capture_on_commit_callbacks)
    assert len(flaky.calls) == 3 and len(gone.calls) == 1
    retried, refused = Delivery.objects.filter(execution=done).order_by("pk")
    assert (retried.status, retried.attempts, retried.response_code) == ("sent", 3, 200)
    assert (refused.status, refused.attempts, refused.error) == ("failed", 1, "HTTP 404")
    assert services.deliver_webhook(delivery_id=refused.pk) is None  # settled: no new attempt


def test_the_wait_doubles_and_the_retries_end(tmp_path, owner, receiver, settings):
    settings.NOTIFY_WEBHOOK_RETRIES = 2
    workflow, _, _ = make_workflow(tmp_path, owner)
    hook = receiver([500, 500, 500, 500])
    services.notification_create(
        workflow=workflow, by=owner, channel="webhook", when="both", target=hook.url
    )
    execution = executions.execution_start(workflow=workflow, by=owner, enqueue=False)
    execution = executions.execution_run(execution_id=execution.pk)
    [delivery_id] = services.notifications_send(execution_id=execution.pk)
    waits = [services.deliver_webhook(delivery_id=delivery_id) for _ in range(3)]
    assert waits == [2.0, 4.0, None] and len(hook.calls) == 3
    delivery = Delivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts, delivery.error) == ("failed", 3, "HTTP 500")


@pytest.mark.parametrize(
    ("url", "allowed", "issue"),
    [
        ("http://10.1.2.3/hook", ["127.0.0.1"], "not in the allowed hosts"),
        ("http://169.254.169.254/latest/meta-data/", ["0.0.0.0/0"], "denied"),
        ("http://127.0.0.1:9/hook", [], "no host is allowed"),
        ("ftp://127.0.0.1/hook", ["127.0.0.1"], "http"),
        ("http://user:pw@127.0.0.1/hook", ["127.0.0.1"], "credentials"),
    ],
)
def test_a_url_outside_the_allow_list_is_refused_at_save(
    api, tmp_path, owner, settings, url, allowed, issue
):
    settings.NOTIFY_WEBHOOK_ALLOWED_HOSTS = allowed
    workflow, _, _ = make_workflow(tmp_path, owner)
    response = api(owner).post(
        f"/api/workflows/{workflow.pk}/notifications",
        {"channel": "webhook", "when": "both", "target": url},
        format="json",
    )
    assert response.status_code == 400
    [detail] = response.json()["error"]["details"]
    assert detail["field"] == "target" and issue in detail["issue"]
    assert not Notification.objects.exists()


def test_a_url_no_longer_allowed_is_not_called_at_send(
    tmp_path, owner, receiver, eager, django_capture_on_commit_callbacks, settings
):
    workflow, _, _ = make_workflow(tmp_path, owner)
    hook = receiver()
    services.notification_create(
        workflow=workflow, by=owner, channel="webhook", when="both", target=hook.url
    )
    settings.NOTIFY_WEBHOOK_ALLOWED_HOSTS = ["hooks.example.org"]
    done = run(workflow, owner, django_capture_on_commit_callbacks)
    assert hook.calls == []
    delivery = Delivery.objects.get(execution=done)
    assert delivery.status == "failed" and "not in the allowed hosts" in delivery.error


def test_email_names_the_run_and_no_value(
    tmp_path, owner, eager, django_capture_on_commit_callbacks, settings
):
    settings.MASKFLOW_BASE_URL = "https://maskflow.example.org"
    workflow, _, _ = make_workflow(
        tmp_path, owner, target_schema=UNIQUE_CITY_SCHEMA, target_rows=EXISTING, batch_size=10
    )
    services.notification_create(
        workflow=workflow, by=owner, channel="email", when="failure",
        target="qa@example.com; dba@example.com",
    )  # fmt: skip
    done = run(workflow, owner, django_capture_on_commit_callbacks)
    assert done.status == ExecutionStatus.FAILED
    [message] = mail.outbox
    assert message.subject == f"[Maskflow] {workflow.name}: failed"
    assert message.to == ["qa@example.com", "dba@example.com"]
    assert f"https://maskflow.example.org/executions/{done.pk}/" in message.body
    assert "city" in message.body  # the value-free error names the column and rule
    assert not [v for v in source_values() if v in message.body]
    assert Delivery.objects.get(execution=done).status == "sent"


def test_bad_addresses_are_refused(api, tmp_path, owner):
    workflow, _, _ = make_workflow(tmp_path, owner)
    response = api(owner).post(
        f"/api/workflows/{workflow.pk}/notifications",
        {"channel": "email", "when": "sometimes", "target": "qa@example.com, not-an-address"},
        format="json",
    )
    assert response.status_code == 400
    assert {d["field"] for d in response.json()["error"]["details"]} == {"when", "target"}


def test_the_secret_is_shown_once_and_changes_are_audited(
    api, tmp_path, owner, other_user, admin_user, settings
):
    settings.NOTIFY_WEBHOOK_ALLOWED_HOSTS = ["*.example.org"]
    workflow, _, _ = make_workflow(tmp_path, owner)
    url = f"/api/workflows/{workflow.pk}/notifications"
    body = {"channel": "webhook", "when": "both", "target": "https://hooks.example.org:8443/h"}
    assert api(other_user).post(url, body, format="json").status_code == 403
    made = api(owner).post(url, body, format="json")
    assert made.status_code == 201
    secret = made.json()["data"]["secret"]
    listed = api(other_user).get(url).json()["data"]
    assert listed[0]["target"] == "https://hooks.example.org:8443/h"
    assert "secret" not in listed[0]
    assert secret not in json.dumps(listed)
    pk = made.json()["data"]["id"]
    assert api(other_user).delete(f"/api/notifications/{pk}").status_code == 403
    assert api(admin_user).delete(f"/api/notifications/{pk}").status_code == 200
    events = AuditEvent.objects.filter(resource_type="notification").order_by("seq")
    assert [e.action for e in events] == ["notification.create", "notification.delete"]
    assert secret not in json.dumps([e.details for e in events])
    assert events[0].details["to"] == "hooks.example.org"


def test_pages_add_a_notification_and_show_deliveries(
    page, tmp_path, owner, other_user, receiver, eager, django_capture_on_commit_callbacks
):
    workflow, _, _ = make_workflow(tmp_path, owner)
    hook = receiver()
    client = page(owner)
    bad = client.post(
        f"/notifications/workflow/{workflow.pk}/add/",
        {"channel": "webhook", "when": "both", "target": "http://10.9.9.9/x"},
        HTTP_HX_REQUEST="true",
    )
    assert 'data-testid="notification-target-error"' in bad.content.decode()
    good = client.post(
        f"/notifications/workflow/{workflow.pk}/add/",
        {"channel": "webhook", "when": "both", "target": hook.url},
        HTTP_HX_REQUEST="true",
    )
    html = good.content.decode()
    assert 'data-testid="webhook-secret"' in html and "/hooks/maskflow" in html
    assert "team=qa" not in html  # the query string stays out of the page
    done = run(workflow, owner, django_capture_on_commit_callbacks)
    shown = client.get(f"/executions/{done.pk}/").content.decode()
    assert 'data-testid="deliveries"' in shown and ">sent<" in shown and "HTTP 200" in shown
    refused = page(other_user).post(  # signs the shared client in as the other user
        f"/notifications/workflow/{workflow.pk}/add/",
        {"channel": "email", "when": "both", "target": "x@example.com"},
    )
    assert refused.status_code == 403 and Notification.objects.count() == 1
