"""Secret settings from files: every name in SECRET_SETTINGS may instead be given as
`NAME_FILE=/path`, the way Docker and Kubernetes mount secrets (/run/secrets/...). The file's
content, without its trailing newline, is the value. Setting both, or naming a file that cannot
be read, stops the process with an error that names the variable and the path, never the value."""

from __future__ import annotations

import os
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

SECRET_SETTINGS = frozenset(
    {
        "SECRET_KEY",
        "JWT_SIGNING_KEY",
        "FIELD_ENCRYPTION_KEYS",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "CELERY_RESULT_BACKEND",
        "CACHE_URL",
        "AUDIT_HMAC_KEYS",
        "EMAIL_HOST_PASSWORD",
    }
)
MAX_BYTES = 64 * 1024


def read_setting(name: str, default: str = "", environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    path = environ.get(f"{name}_FILE", "") if name in SECRET_SETTINGS else ""
    if not path:
        return environ.get(name, default)
    if environ.get(name):
        raise ImproperlyConfigured(f"set {name} or {name}_FILE, not both")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ImproperlyConfigured(
            f"{name}_FILE: cannot read {path} ({exc.strerror or type(exc).__name__})"
        ) from None
    if len(raw) > MAX_BYTES:
        raise ImproperlyConfigured(f"{name}_FILE: {path} is larger than {MAX_BYTES} bytes")
    try:
        value = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise ImproperlyConfigured(f"{name}_FILE: {path} is not UTF-8 text") from None
    if not value.strip():
        raise ImproperlyConfigured(f"{name}_FILE: {path} is empty")
    return value
