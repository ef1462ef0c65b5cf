import json

import pytest

from apps.audit.models import AuditEvent
from masking.techniques.tokenize import transform
from tests.workflows.factories import TableMappingFactory, WorkflowFactory

pytestmark = pytest.mark.django_db

CLEAR = "4111-1111-1111-1111"
REASON = "Customer dispute #4411: verify the card on file"


@pytest.fixture
def workflow(owner):
    w = WorkflowFactory(created_by=owner, name="cards")
    TableMappingFactory(
        workflow=w,
        source_table="payments",
        target_table="payments",
        column_mappings=[
            {
                "source_column": "card_number",
                "technique": "tokenize",
                "target_column": "card_number",
                "params": {},
            },
            {"source_column": "holder", "technique": "full_name", "target_column": "holder"},
        ],
    )
    return w


@pytest.fixture
def token(workflow):
    value = transform(CLEAR, workflow.get_secret())
    assert value != CLEAR
    return value


def _unmask(client, workflow, **body):
    payload = {
        "value": body.pop("value", ""),
        "column": "payments.card_number",
        "reason": REASON,
        **body,
    }
    return client.post(f"/api/workflows/{workflow.pk}/unmask", payload, format="json")


def test_admin_unmasks_and_the_audit_has_no_value(api, admin_user, workflow, token):
    response = _unmask(api(admin_user), workflow, value=token)
    body = response.json()
    assert (
        response.status_code == 200 and body["success"] is True and body["data"]["value"] == CLEAR
    )
    assert response["Cache-Control"] == "no-store"
    event = AuditEvent.objects.get(action="data.unmask")
    assert event.status == "success" and event.actor_id == admin_user.pk
    assert event.resource_type == "workflow" and event.resource_id == str(workflow.pk)
    assert event.details == {
        "workflow": "cards",
        "column": "main.payments.card_number",
        "technique": "tokenize",
        "reason": REASON,
    }
    dumped = json.dumps([list(e.values()) for e in AuditEvent.objects.values()], default=str)
    assert CLEAR not in dumped and token not in dumped


@pytest.mark.parametrize(
    "column", ["main.payments.card_number", "payments.card_number", "card_number"]
)
def test_column_forms(api, admin_user, workflow, token, column):
    assert (
        _unmask(api(admin_user), workflow, value=token, column=column).json()["data"]["value"]
        == CLEAR
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ({"reason": ""}, "reason"),
        ({"reason": "too short"}, "reason"),
        ({"column": "payments.holder"}, "column"),
        ({"column": "nope.nothing"}, "column"),
        ({"value": ""}, "value"),
    ],
)
def test_invalid_requests_are_400_and_reveal_nothing(api, admin_user, workflow, token, body, field):
    body = {"value": token, **body}
    response = _unmask(api(admin_user), workflow, **body)
    data = response.json()
    assert response.status_code == 400 and data["success"] is False
    assert field in json.dumps(data["error"]["details"]) and CLEAR not in response.content.decode()
    assert not AuditEvent.objects.filter(action="data.unmask", status="success").exists()


def test_users_and_anonymous_are_refused(api, owner, workflow, token):
    denied = _unmask(api(owner), workflow, value=token)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "FORBIDDEN"
    assert CLEAR not in denied.content.decode()
    assert _unmask(api(None), workflow, value=token).status_code == 401
    assert not AuditEvent.objects.filter(action="data.unmask").exists()
    assert AuditEvent.objects.filter(
        action="auth.forbidden", resource_id=f"/api/workflows/{workflow.pk}/unmask"
    ).exists()


def test_unknown_workflow_404(api, admin_user, token):
    response = api(admin_user).post(
        "/api/workflows/9999/unmask",
        {"value": token, "column": "payments.card_number", "reason": REASON},
        format="json",
    )
    assert response.status_code == 404 and response.json()["success"] is False


def test_rate_limited_per_admin(api, admin_user, workflow, token, settings):
    settings.UNMASK_RATE = "3/min"
    client = api(admin_user)
    for _ in range(3):
        assert _unmask(client, workflow, value=token).status_code == 200
    limited = _unmask(client, workflow, value=token)
    body = limited.json()
    assert (
        limited.status_code == 429
        and body["success"] is False
        and body["error"]["code"] == "RATE_LIMITED"
    )
    assert body["error"]["details"]["retry_after"] >= 1 and CLEAR not in limited.content.decode()
    assert AuditEvent.objects.filter(action="data.unmask", status="denied").count() == 1
    # another admin has their own allowance
    from tests.factories import AdminFactory

    assert _unmask(api(AdminFactory()), workflow, value=token).status_code == 200


def test_page_shows_result_once_and_audits(page, admin_user, owner, workflow, token):
    assert page(owner).get("/audit/unmask/").status_code == 403
    client = page(admin_user)
    form = client.get("/audit/unmask/").content.decode()
    assert "main.payments.card_number" in form
    response = client.post(
        "/audit/unmask/",
        {
            "workflow": workflow.pk,
            "column": "payments.card_number",
            "value": token,
            "reason": REASON,
        },
    )
    html = response.content.decode()
    assert response.status_code == 200 and 'data-testid="unmask-result"' in html and CLEAR in html
    assert token not in html and response["Cache-Control"] == "no-store"
    assert CLEAR not in client.get("/audit/unmask/").content.decode()
    assert AuditEvent.objects.filter(action="data.unmask", status="success").count() == 1
    short = client.post(
        "/audit/unmask/",
        {
            "workflow": workflow.pk,
            "column": "payments.card_number",
            "value": token,
            "reason": "because",
        },
    )
    assert short.status_code == 400 and CLEAR not in short.content.decode()


def test_page_rate_limit(page, admin_user, workflow, token, settings):
    settings.UNMASK_RATE = "1/min"
    client = page(admin_user)
    data = {
        "workflow": workflow.pk,
        "column": "payments.card_number",
        "value": token,
        "reason": REASON,
    }
    assert client.post("/audit/unmask/", data).status_code == 200
    limited = client.post("/audit/unmask/", data)
    assert limited.status_code == 429 and CLEAR not in limited.content.decode()
