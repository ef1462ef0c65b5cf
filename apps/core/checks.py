"""Deployment checks of our own (`manage.py check --deploy`)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register

# HS256 keys: RFC 7518 asks for at least 256 bits; a random key of 43+ URL-safe characters has
# them. The distinct-character floor catches padding such as "aaaa…" or "0123012301…".
JWT_KEY_MIN_LENGTH = 43
JWT_KEY_MIN_DISTINCT = 16
KNOWN_KEYS = frozenset(
    {
        "dev-insecure-maskflow-secret-key-change-me-in-production-0123456789",
        "secret",
        "changeme",
        "change-me",
    }
)


def weak_key(key: str) -> str:
    """Why `key` is too weak to sign tokens with, or "" when it is not."""
    if key.strip().lower() in KNOWN_KEYS:
        return "it is a published default"
    if len(key) < JWT_KEY_MIN_LENGTH:
        return f"it is shorter than {JWT_KEY_MIN_LENGTH} characters"
    if len(set(key)) < JWT_KEY_MIN_DISTINCT:
        return f"it has fewer than {JWT_KEY_MIN_DISTINCT} distinct characters"
    return ""


@register(Tags.security, deploy=True)
def check_jwt_signing_key(app_configs, **kwargs):
    reason = weak_key(settings.JWT_SIGNING_KEY or "")
    if not reason:
        return []
    return [
        Error(
            f"JWT_SIGNING_KEY is too weak to sign API tokens: {reason}.",
            hint="Set JWT_SIGNING_KEY (or SECRET_KEY) to a random value, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(64))'.",
            id="maskflow.E001",
        )
    ]
