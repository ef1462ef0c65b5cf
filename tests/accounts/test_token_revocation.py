"""Earlier API tokens (and page sessions) stop working after a password change, a role change,
a deactivation or an admin's "sign out everywhere"; ordinary saves revoke nothing."""

from __future__ import annotations

import time

import jwt
import pytest
from django.conf import settings
from django.urls import reverse

from apps.accounts.services import user_update
from apps.audit.models import AuditEvent
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def login(api, user, password=TEST_PASSWORD) -> str:
    response = api().post(
        "/api/auth/login", {"username": user.username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.json()
    return response.json()["data"]["token"]


def me(api, token) -> int:
    return api().get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code


def revoked(api, token) -> bool:
    response = api().get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    return response.status_code == 401 and "revoked" in response.json()["error"]["message"]


def test_password_change_revokes_earlier_tokens(api, owner):
    old = login(api, owner)
    assert me(api, old) == 200
    owner.set_password("A-brand-new-passphrase-42")
    owner.save()
    assert revoked(api, old)
    assert me(api, login(api, owner, "A-brand-new-passphrase-42")) == 200


def test_changepassword_command_revokes_earlier_tokens(api, owner, monkeypatch):
    from django.core.management import call_command

    old = login(api, owner)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "Another-passphrase-77")
    call_command("changepassword", owner.username, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert revoked(api, old)


def test_role_change_revokes_earlier_tokens(api, page, owner, admin_user):
    old = login(api, owner)
    response = page(admin_user).post(
        reverse("accounts:user_update", args=[owner.pk]), {"role": "admin", "is_active": "on"}
    )
    assert response.status_code == 302
    assert revoked(api, old)
    user_update(user=owner, by=admin_user, role="user")
    owner.refresh_from_db()
    assert me(api, login(api, owner)) == 200


def test_sign_out_everywhere_revokes_tokens_and_sessions(api, client, page, owner, admin_user):
    from django.test import Client

    token = login(api, owner)
    browser = Client()
    browser.force_login(owner)
    assert browser.get(reverse("accounts:profile")).status_code == 200
    response = page(admin_user).post(reverse("accounts:user_sign_out", args=[owner.pk]))
    assert response.status_code == 302
    assert revoked(api, token)
    assert browser.get(reverse("accounts:profile")).status_code == 302  # back to the login page
    event = AuditEvent.objects.get(action="user.sign_out_everywhere")
    assert event.actor_username == admin_user.username and event.resource_id == str(owner.pk)
    assert me(api, login(api, owner)) == 200


@pytest.mark.parametrize("who, status", [("owner", 403), ("other", 403), ("anonymous", 302)])
def test_only_admins_sign_users_out(api, page, owner, other_user, who, status):
    token = login(api, owner)
    user = {"owner": owner, "other": other_user, "anonymous": None}[who]
    response = page(user).post(reverse("accounts:user_sign_out", args=[owner.pk]))
    assert response.status_code == status
    assert me(api, token) == 200
    assert not AuditEvent.objects.filter(action="user.sign_out_everywhere").exists()


def test_logins_and_unrelated_saves_revoke_nothing(api, owner):
    first = login(api, owner)
    second = login(api, owner)  # updates last_login
    owner.email = "new@example.com"
    owner.save()
    assert me(api, first) == 200 and me(api, second) == 200


def test_a_token_without_a_version_is_refused(api, owner):
    claims = {"user_id": owner.pk, "username": owner.username, "exp": int(time.time()) + 600}
    token = jwt.encode(claims, settings.JWT_SIGNING_KEY, algorithm="HS256")
    assert me(api, token) == 401
