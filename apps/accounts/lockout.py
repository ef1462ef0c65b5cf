"""Temporary lock-out after repeated login failures, shared by the login page and the API."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record


def _key(username: str) -> str:
    digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return f"login-failures:{digest}"


def lockout_active(username: str) -> bool:
    return cache.get(_key(username), 0) >= settings.LOGIN_FAILURE_LIMIT


def lockout_register_failure(username: str, request=None) -> None:
    key = _key(username)
    try:
        failures = cache.incr(key)
    except ValueError:
        cache.set(key, 1, settings.LOGIN_LOCKOUT_SECONDS)
        failures = 1
    if failures == settings.LOGIN_FAILURE_LIMIT:
        cache.touch(key, settings.LOGIN_LOCKOUT_SECONDS)
        audit_record(
            action="auth.lockout",
            status=AuditEvent.Status.DENIED,
            request=request,
            actor_username=username[:150],
            details={"failures": failures, "seconds": settings.LOGIN_LOCKOUT_SECONDS},
        )


def lockout_clear(username: str) -> None:
    cache.delete(_key(username))


LOCKED_MESSAGE = "Too many failed attempts. This account is locked for a few minutes."
