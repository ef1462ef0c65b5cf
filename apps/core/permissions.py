"""The permission matrix in one place: pages and API ask the same questions."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission


def is_admin(user) -> bool:
    return bool(user and user.is_authenticated and getattr(user, "role", "") == "admin")


def can_modify(user, obj) -> bool:
    """Admins change everything; users only what they created."""
    return is_admin(user) or getattr(obj, "created_by_id", None) == user.pk


def admin_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_admin(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


class IsAdmin(BasePermission):
    message = "Administrator role required."

    def has_permission(self, request, view):
        return is_admin(request.user)


def scope_to_user(qs, user, owner_field: str):
    """Rows a user may see of a per-user resource: admins every row, other users the rows whose
    `owner_field` is theirs (executions: the runs they started)."""
    return qs if is_admin(user) else qs.filter(**{owner_field: user.pk})
