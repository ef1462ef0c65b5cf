from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import models, transaction

from apps.accounts.models import Role
from apps.audit.services import audit_record

User = get_user_model()


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    role: str = Role.USER,
    email: str = "",
    by=None,
    request=None,
    validate: bool = True,
):
    user = User(username=username, email=email, role=role)
    if validate:
        validate_password(password, user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    audit_record(
        action="user.create",
        request=request,
        actor=by,
        resource_type="user",
        resource_id=user.pk,
        details={"role": role},
    )
    return user


@transaction.atomic
def user_update(*, user, by, request=None, role: str | None = None, is_active: bool | None = None):
    changes = {}
    if role is not None and role != user.role:
        changes["role"] = {"from": user.role, "to": role}
        user.role = role
    if is_active is not None and is_active != user.is_active:
        changes["is_active"] = {"from": user.is_active, "to": is_active}
        user.is_active = is_active
    if changes:
        user.save()
        audit_record(
            action="user.update",
            request=request,
            actor=by,
            resource_type="user",
            resource_id=user.pk,
            details=changes,
        )
    return user


@transaction.atomic
def user_sign_out_everywhere(*, user, by, request=None):
    """Revoke every token and page session the user holds; they must sign in again."""
    User.objects.filter(pk=user.pk).update(token_version=models.F("token_version") + 1)
    user.refresh_from_db(fields=["token_version"])
    audit_record(
        action="user.sign_out_everywhere",
        request=request,
        actor=by,
        resource_type="user",
        resource_id=user.pk,
    )
    return user
