import time

import jwt
import pytest
from django.conf import settings
from django.urls import reverse

from apps.audit.models import AuditEvent
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def events(action, status=None):
    qs = AuditEvent.objects.filter(action=action)
    if status:
        qs = qs.filter(status=status)
    return qs


# --- login page -------------------------------------------------------------------------------
def test_login_page_success_redirects_to_dashboard_and_is_audited(client, owner):
    response = client.post(
        reverse("accounts:login"), {"username": owner.username, "password": TEST_PASSWORD}
    )
    assert response.status_code == 302
    assert response.url == reverse("dashboard:index")
    assert client.get(reverse("dashboard:index")).status_code == 200
    event = events("auth.login", "success").get()
    assert event.actor_username == owner.username and event.details == {"channel": "page"}


def test_login_page_failure_shows_error_and_is_audited_without_password(client, owner):
    response = client.post(
        reverse("accounts:login"), {"username": owner.username, "password": "wrong-password-123"}
    )
    assert response.status_code == 400
    assert b"Invalid username or password" in response.content
    event = events("auth.login", "failure").get()
    assert event.actor_username == owner.username
    assert "wrong-password-123" not in str(event.details)
    assert client.get(reverse("dashboard:index")).status_code == 302


def test_login_page_rejects_offsite_next(client, owner):
    response = client.post(
        reverse("accounts:login") + "?next=https://evil.example/",
        {"username": owner.username, "password": TEST_PASSWORD, "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and response.url == reverse("dashboard:index")


def test_repeated_failures_lock_the_account_temporarily(client, owner, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        client.post(
            reverse("accounts:login"), {"username": owner.username, "password": "nope-nope-nope"}
        )
    response = client.post(
        reverse("accounts:login"), {"username": owner.username, "password": TEST_PASSWORD}
    )
    assert response.status_code == 400 and b"locked" in response.content
    assert events("auth.lockout").count() == 1


def test_logout_requires_post_and_is_audited(client, owner):
    client.force_login(owner)
    assert client.get(reverse("accounts:logout")).status_code == 405
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert events("auth.logout").filter(actor_username=owner.username).count() == 1
    assert client.get(reverse("dashboard:index")).status_code == 302


def test_login_form_has_csrf_protection(owner):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        reverse("accounts:login"), {"username": owner.username, "password": TEST_PASSWORD}
    )
    assert response.status_code == 403


@pytest.mark.bcrypt
def test_password_hashes_are_bcrypt_cost_12(db):
    from apps.accounts.services import user_create

    user = user_create(username="hashcheck", password="a-long-enough-passphrase-9")
    assert user.password.startswith("bcrypt_sha256$$2b$12$")
    assert user.check_password("a-long-enough-passphrase-9")
    assert not user.check_password("another-passphrase-9")


def test_password_policy_rejects_short_common_and_similar(db):
    from django.core.exceptions import ValidationError

    from apps.accounts.services import user_create

    for username, password in (
        ("bob", "short-pw"),
        ("carol", "password1234"),
        ("danielsmith", "danielsmith1"),
    ):
        with pytest.raises(ValidationError):
            user_create(username=username, password=password)


# --- JWT API -----------------------------------------------------------------------------------
def login_api(api, username, password):
    return api().post(
        "/api/auth/login", {"username": username, "password": password}, format="json"
    )


def test_api_login_returns_hs256_jwt_with_claims(api, owner):
    response = login_api(api, owner.username, TEST_PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["message"] == "Login successful"
    token = body["data"]["token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"
    claims = jwt.decode(token, settings.JWT_SIGNING_KEY, algorithms=["HS256"])
    assert (
        claims["user_id"] == owner.pk
        and claims["username"] == owner.username
        and claims["role"] == "user"
    )
    assert 24 * 3600 - 5 <= claims["exp"] - time.time() <= 24 * 3600 + 5
    me = api().get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert me.status_code == 200 and me.json()["data"]["username"] == owner.username
    assert "password" not in me.json()["data"]


def test_api_login_failure_is_401_in_envelope(api, owner):
    response = login_api(api, owner.username, "bad-password-000")
    assert response.status_code == 401
    assert response.json() == {
        "success": False,
        "error": {
            "code": "INVALID_CREDENTIALS",
            "message": "Invalid username or password.",
            "details": [],
        },
    }
    assert events("auth.login", "failure").count() == 1


def test_api_login_validation_error_lists_fields(api):
    response = api().post("/api/auth/login", {"username": ""}, format="json")
    assert response.status_code == 400
    fields = {d["field"] for d in response.json()["error"]["details"]}
    assert fields == {"username", "password"}


def _forge(claims, key=None, algorithm="HS256"):
    return jwt.encode(claims, key or settings.JWT_SIGNING_KEY, algorithm=algorithm)


def _claims(user, **extra):
    base = {
        "user_id": user.pk,
        "username": user.username,
        "role": user.role,
        "ver": user.token_version,
        "exp": int(time.time()) + 600,
    }
    base.update(extra)
    return base


def _none_alg_token(claims):
    import base64
    import json

    def b64(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda u: _forge(_claims(u, exp=int(time.time()) - 10)), id="expired"),
        pytest.param(
            lambda u: _forge(_claims(u), key="another-signing-key-of-sufficient-length-123"),
            id="wrong-key",
        ),
        pytest.param(lambda u: _forge(_claims(u))[:-3] + "AAA", id="tampered-signature"),
        pytest.param(lambda u: _none_alg_token(_claims(u, role="admin")), id="alg-none"),
        pytest.param(lambda u: _forge(_claims(u), algorithm="HS512"), id="wrong-alg"),
        pytest.param(
            lambda u: _forge({"username": u.username, "exp": int(time.time()) + 60}),
            id="no-user-id",
        ),
        pytest.param(lambda u: "not-a-token", id="garbage"),
    ],
)
def test_bad_tokens_are_rejected_with_401(api, owner, make_token):
    response = api().get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {make_token(owner)}")
    assert response.status_code == 401
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == "UNAUTHORIZED"
    assert events("auth.unauthorized").count() == 1


def test_tampered_payload_with_admin_role_is_rejected(api, owner):
    token = _forge(_claims(owner))
    header, payload, signature = token.split(".")
    import base64
    import json

    forged_payload = (
        base64.urlsafe_b64encode(json.dumps(_claims(owner, role="admin")).encode())
        .rstrip(b"=")
        .decode()
    )
    response = api().get(
        "/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {header}.{forged_payload}.{signature}"
    )
    assert response.status_code == 401


def test_token_of_deactivated_user_is_rejected(api, owner):
    client = api(owner)
    owner.is_active = False
    owner.save()
    assert client.get("/api/auth/me").status_code == 401


def test_anonymous_api_request_is_401(api):
    response = api().get("/api/auth/me")
    assert response.status_code == 401
    assert response.json()["success"] is False


def test_session_authenticates_api_too(client, owner):
    client.force_login(owner)
    assert client.get("/api/auth/me").json()["data"]["username"] == owner.username


def test_api_login_is_throttled(api, owner, settings):
    original = settings.REST_FRAMEWORK
    rates = dict(original["DEFAULT_THROTTLE_RATES"], login="3/min")
    settings.REST_FRAMEWORK = {**original, "DEFAULT_THROTTLE_RATES": rates}
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    api_settings.reload()
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        statuses = [
            login_api(api, owner.username, "wrong-password-x").status_code for _ in range(4)
        ]
    finally:
        settings.REST_FRAMEWORK = original
        api_settings.reload()
        SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    assert statuses == [401, 401, 401, 429]
