import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.mark.parametrize("who, expected", [("admin", 200), ("owner", 403), ("anonymous", 302)])
def test_users_page_is_admin_only(page, admin_user, owner, who, expected):
    actor = {"admin": admin_user, "owner": owner, "anonymous": None}[who]
    response = page(actor).get(reverse("accounts:users"))
    assert response.status_code == expected
    if expected == 302:
        assert response.url.startswith(reverse("accounts:login"))


def test_forbidden_page_is_audited(page, owner):
    page(owner).get(reverse("accounts:users"))
    event = AuditEvent.objects.get(action="auth.forbidden")
    assert event.actor_username == owner.username and event.resource_id == reverse("accounts:users")


def test_admin_creates_user(page, admin_user):
    response = page(admin_user).post(
        reverse("accounts:users"),
        {
            "username": "newbie",
            "email": "n@maskflow.test",
            "role": "user",
            "password": "a-long-enough-passphrase-9",
        },
    )
    assert response.status_code == 302
    created = User.objects.get(username="newbie")
    assert created.role == "user" and created.check_password("a-long-enough-passphrase-9")
    assert AuditEvent.objects.filter(action="user.create", resource_id=str(created.pk)).exists()


def test_admin_create_rejects_weak_password_and_saves_nothing(page, admin_user):
    response = page(admin_user).post(
        reverse("accounts:users"),
        {"username": "weak", "email": "", "role": "user", "password": "password"},
    )
    assert response.status_code == 400
    assert not User.objects.filter(username="weak").exists()


def test_user_cannot_create_users(page, owner):
    response = page(owner).post(
        reverse("accounts:users"),
        {
            "username": "sneaky",
            "email": "",
            "role": "admin",
            "password": "a-long-enough-passphrase-9",
        },
    )
    assert response.status_code == 403
    assert not User.objects.filter(username="sneaky").exists()


def test_admin_changes_role_and_deactivates(page, admin_user, owner):
    client = page(admin_user)
    response = client.post(reverse("accounts:user_update", args=[owner.pk]), {"role": "admin"})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.role == "admin" and owner.is_active is False
    event = AuditEvent.objects.get(action="user.update")
    assert event.details == {
        "role": {"from": "user", "to": "admin"},
        "is_active": {"from": True, "to": False},
    }


def test_user_cannot_promote_self(page, owner):
    response = page(owner).post(
        reverse("accounts:user_update", args=[owner.pk]), {"role": "admin", "is_active": "on"}
    )
    assert response.status_code == 403
    owner.refresh_from_db()
    assert owner.role == "user"


def test_admin_cannot_demote_self(page, admin_user):
    page(admin_user).post(
        reverse("accounts:user_update", args=[admin_user.pk]), {"role": "user", "is_active": "on"}
    )
    admin_user.refresh_from_db()
    assert admin_user.role == "admin"


def test_profile_page(page, owner):
    response = page(owner).get(reverse("accounts:profile"))
    assert response.status_code == 200 and owner.username.encode() in response.content
    assert page(None).get(reverse("accounts:profile")).status_code == 302
