"""Deployment settings, security headers, CSRF on every form, API rate limits, login lock-out."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from tests.factories import TEST_PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path, **over) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update(
        MASKFLOW_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(64)[:64],
        FIELD_ENCRYPTION_KEYS="k1:" + base64.b64encode(os.urandom(32)).decode(),
        AUDIT_HMAC_KEYS="a1:" + base64.b64encode(os.urandom(32)).decode(),
        ALLOWED_HOSTS="maskflow.example.com",
        MASKFLOW_DATA_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    for key, value in over.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run(args, env, timeout=120):
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


# --- check --deploy -------------------------------------------------------------------------------
def test_deploy_security_checks_pass_in_production(tmp_path):
    result = run(
        [
            sys.executable,
            "manage.py",
            "check",
            "--deploy",
            "--tag",
            "security",
            "--fail-level",
            "WARNING",
        ],
        production_env(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in (result.stdout + result.stderr)


def test_full_deploy_check_reports_nothing(tmp_path):
    """Every check Django, the apps and the API schema generator run in production."""
    result = run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        production_env(tmp_path),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output, output


@pytest.mark.parametrize(
    "over, message",
    [
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        (
            {"SECRET_KEY": "dev-insecure-maskflow-secret-key-change-me-in-production-0123456789"},
            "SECRET_KEY",
        ),
        ({"SECRET_KEY": "short-key"}, "SECRET_KEY"),
        ({"FIELD_ENCRYPTION_KEYS": None}, "FIELD_ENCRYPTION_KEYS"),
        (
            {"FIELD_ENCRYPTION_KEYS": "dev:ZGV2LW9ubHktZmllbGQta2V5LWRvLW5vdC11c2UtMzI="},
            "FIELD_ENCRYPTION_KEYS",
        ),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS"),
        ({"AUDIT_HMAC_KEYS": None}, "AUDIT_HMAC_KEYS"),
    ],
)
def test_production_refuses_default_secrets(tmp_path, over, message):
    result = run([sys.executable, "manage.py", "check"], production_env(tmp_path, **over))
    assert result.returncode != 0
    assert "Refusing to start in production" in result.stderr and message in result.stderr


PROBE = r"""
import django, json
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.conf import settings
from django.test import Client
c = Client(HTTP_HOST="maskflow.example.com")
secure = c.get("/health", secure=True)
plain = c.get("/health")
api = c.get("/api/auth/me", secure=True)
print(json.dumps({
    "hsts": secure.get("Strict-Transport-Security", ""),
    "api_hsts": api.get("Strict-Transport-Security", ""),
    "plain_status": plain.status_code, "plain_location": plain.get("Location", ""),
    "session_secure": settings.SESSION_COOKIE_SECURE, "csrf_secure": settings.CSRF_COOKIE_SECURE,
    "session_httponly": settings.SESSION_COOKIE_HTTPONLY, "debug": settings.DEBUG,
}))
"""


def test_production_sends_hsts_and_secure_cookies(tmp_path):
    import json

    result = run([sys.executable, "-c", PROBE], production_env(tmp_path))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert "max-age=31536000" in data["hsts"] and "includeSubDomains" in data["hsts"]
    assert "max-age=31536000" in data["api_hsts"]
    assert data["plain_status"] == 301 and data["plain_location"].startswith(
        "https://maskflow.example.com/"
    )
    assert (
        data["session_secure"] is True
        and data["csrf_secure"] is True
        and data["session_httponly"] is True
    )
    assert data["debug"] is False


# --- headers (test settings = development) --------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "url, api_call",
    [
        ("/accounts/login/", False),
        ("/", False),
        ("/audit/", False),
        ("/api/auth/me", True),
        ("/api/audit", True),
        ("/api/nope", True),
    ],
)
def test_security_headers_on_pages_and_api(page, api, admin_user, url, api_call):
    response = api(admin_user).get(url) if api_call else page(admin_user).get(url)
    csp = response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert (
        "script-src 'self'" in csp
        and "frame-ancestors 'none'" in csp
        and "default-src 'self'" in csp
    )
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    # development/test settings: no HSTS, cookies not marked Secure
    assert "Strict-Transport-Security" not in response


@pytest.mark.django_db
def test_dev_cookies_not_secure_but_httponly(client, owner):
    response = client.post(
        "/accounts/login/", {"username": owner.username, "password": TEST_PASSWORD}
    )
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] is True and not cookie["secure"] and cookie["samesite"] == "Strict"


# --- CSRF -----------------------------------------------------------------------------------------
@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


@pytest.mark.django_db
def test_login_post_needs_csrf(csrf_client, owner):
    response = csrf_client.post(
        "/accounts/login/", {"username": owner.username, "password": TEST_PASSWORD}
    )
    assert response.status_code == 403 and "_auth_user_id" not in csrf_client.session
    # with the token from the form it works
    csrf_client.get("/accounts/login/")
    token = csrf_client.cookies["csrftoken"].value
    ok = csrf_client.post(
        "/accounts/login/",
        {"username": owner.username, "password": TEST_PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert ok.status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url, data",
    [
        ("/accounts/logout/", {}),
        (
            "/connections/new/",
            {"name": "x", "dialect": "sqlite", "database": "x.db", "role_hint": "both"},
        ),
        ("/workflows/new/", {"name": "wf", "locale": "en_US"}),
        (
            "/accounts/users/",
            {"username": "u", "role": "admin", "password": "a-long-unusual-passphrase-9"},
        ),
        (
            "/audit/unmask/",
            {"workflow": "1", "column": "a.b", "value": "x", "reason": "long enough reason"},
        ),
    ],
)
def test_every_post_form_needs_csrf(csrf_client, admin_user, url, data):
    from django.apps import apps

    csrf_client.force_login(admin_user)
    counts = {
        m: apps.get_model(m).objects.count() for m in ("accounts.User", "connections.Connection")
    }
    response = csrf_client.post(url, data)
    assert response.status_code == 403
    assert "_auth_user_id" in csrf_client.session  # logout did not happen
    assert counts == {m: apps.get_model(m).objects.count() for m in counts}


@pytest.mark.django_db
def test_session_authenticated_api_write_needs_csrf(csrf_client, owner):
    csrf_client.force_login(owner)
    response = csrf_client.post("/api/connections", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403 and response.json()["success"] is False


# --- API rate limits ------------------------------------------------------------------------------
@pytest.fixture
def low_rates(monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    def set_rates(**rates):
        monkeypatch.setattr(
            SimpleRateThrottle,
            "THROTTLE_RATES",
            {"user": "1000/min", "ip": "1000/min", "login": "1000/min", **rates},
        )

    return set_rates


def _assert_429(response):
    body = response.json()
    assert response.status_code == 429 and body["success"] is False
    assert body["error"]["code"] == "RATE_LIMITED" and body["error"]["details"]["retry_after"] >= 1
    assert "Retry-After" in response


@pytest.mark.django_db
def test_api_rate_limit_per_user(api, owner, other_user, low_rates):
    low_rates(user="3/min")
    client = api(owner)
    assert [client.get("/api/auth/me").status_code for _ in range(3)] == [200, 200, 200]
    _assert_429(client.get("/api/auth/me"))
    assert api(other_user).get("/api/auth/me").status_code == 200  # same address, other user


@pytest.mark.django_db
def test_api_rate_limit_per_ip(api, owner, other_user, low_rates):
    low_rates(ip="3/min")
    for user in (owner, other_user, owner):
        assert api(user).get("/api/auth/me").status_code == 200
    _assert_429(api(other_user).get("/api/auth/me"))
    assert api(other_user).get("/api/auth/me", REMOTE_ADDR="10.9.8.7").status_code == 200


# --- login lock-out -------------------------------------------------------------------------------
@pytest.mark.django_db
def test_lockout_is_audited_and_refuses_even_the_right_password(
    api, client, owner, settings, low_rates
):
    low_rates()  # the lock-out, not the per-address login rate, must be what refuses
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        assert (
            api(None)
            .post(
                "/api/auth/login",
                {"username": owner.username, "password": "wrong-pass-x"},
                format="json",
            )
            .status_code
            == 401
        )
    locked = api(None).post(
        "/api/auth/login", {"username": owner.username, "password": TEST_PASSWORD}, format="json"
    )
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "LOCKED_OUT"
    page = client.post("/accounts/login/", {"username": owner.username, "password": TEST_PASSWORD})
    assert page.status_code == 400 and "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action="auth.lockout")
    assert event.status == "denied" and event.actor_username == owner.username
    assert event.details == {"failures": 3, "seconds": settings.LOGIN_LOCKOUT_SECONDS}
    failures = AuditEvent.objects.filter(action="auth.login", status="failure")
    assert failures.count() == 3
    assert all("wrong-pass-x" not in str(e.details) for e in AuditEvent.objects.all())


@pytest.mark.django_db
def test_forwarded_for_is_ignored_without_a_configured_proxy(api, low_rates):
    """A client rotating X-Forwarded-For must not get a fresh login allowance per request."""
    low_rates(login="10/min")
    statuses = [
        api(None)
        .post(
            "/api/auth/login",
            {"username": f"nobody{i}", "password": "wrong-pass-x"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i}",
        )
        .status_code
        for i in range(12)
    ]
    assert statuses == [401] * 10 + [429, 429]


@pytest.mark.django_db
def test_forwarded_for_counts_behind_a_configured_proxy(api, low_rates, settings):
    low_rates(login="2/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    def attempt(client_address):
        return (
            api(None)
            .post(
                "/api/auth/login",
                {"username": "nobody", "password": "wrong-pass-x"},
                format="json",
                REMOTE_ADDR="10.0.0.2",  # the proxy
                HTTP_X_FORWARDED_FOR=f"198.51.100.7, {client_address}",
            )
            .status_code
        )

    assert [attempt("203.0.113.1") for _ in range(3)] == [401, 401, 429]
    assert attempt("203.0.113.2") == 401  # another client behind the same proxy


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "short-but-not-trivial-key",
        "a" * 80,
        "0123" * 20,
        "dev-insecure-maskflow-secret-key-change-me-in-production-0123456789",
    ],
)
def test_deploy_check_refuses_a_weak_jwt_signing_key(tmp_path, key):
    result = run(
        [sys.executable, "manage.py", "check", "--deploy"],
        production_env(tmp_path, JWT_SIGNING_KEY=key),
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "maskflow.E001" in output and "JWT_SIGNING_KEY" in output
    if len(key) > 20:
        assert key not in output  # the key itself is never printed


DEV_PROBE = r"""
import json, os, time, django
django.setup()
import jwt
from django.conf import settings
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
from apps.accounts.models import User
admin = User.objects.create_user(username="root", password="x-unused-pass-123", role="admin")
forged = jwt.encode(
    {"user_id": admin.pk, "username": "root", "role": "admin", "ver": admin.token_version,
     "exp": int(time.time()) + 600},
    "dev-insecure-maskflow-secret-key-change-me-in-production-0123456789", algorithm="HS256")
c = Client()
key_file = os.path.join(os.environ["MASKFLOW_DATA_DIR"], "jwt_signing_key")
print(json.dumps({
    "debug": settings.DEBUG,
    "key": settings.JWT_SIGNING_KEY,
    "secret_key": settings.SECRET_KEY,
    "file_mode": oct(os.stat(key_file).st_mode & 0o777),
    "forged_status": c.get("/api/auth/me", HTTP_AUTHORIZATION="Bearer " + forged).status_code,
    "not_found": c.get("/no-such-page/").content.decode(),
}))
"""


def test_development_makes_its_own_keys_and_runs_without_debug(tmp_path):
    import json

    env = production_env(
        tmp_path, MASKFLOW_ENV="development", SECRET_KEY=None, DEBUG=None, ALLOWED_HOSTS=None
    )
    env.pop("JWT_SIGNING_KEY", None)
    first = run([sys.executable, "-c", DEV_PROBE], env)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout.strip().splitlines()[-1])
    assert data["forged_status"] == 401  # the published development key signs nothing here
    assert len(data["key"]) >= 43 and data["key"] != data["secret_key"]
    assert "dev-insecure" not in data["secret_key"] and data["file_mode"] == "0o600"
    assert data["debug"] is False
    assert "URLconf" not in data["not_found"] and "api/" not in data["not_found"]
    again = run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.JWT_SIGNING_KEY)",
        ],
        env,
    )
    assert again.stdout.strip() == data["key"]  # kept for the install, not remade per process
    other = production_env(tmp_path / "elsewhere", MASKFLOW_ENV="development", SECRET_KEY=None)
    (tmp_path / "elsewhere").mkdir()
    other.pop("JWT_SIGNING_KEY", None)
    elsewhere = run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.JWT_SIGNING_KEY)",
        ],
        other,
    )
    assert elsewhere.stdout.strip() not in ("", data["key"])  # another install, another key


@pytest.mark.django_db
def test_api_docs_page_has_a_content_security_policy(client):
    response = client.get("/api/docs/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
