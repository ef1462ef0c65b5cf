"""The keys that sign the audit chain: AUDIT_HMAC_KEYS, `key-id:base64(32+ bytes)` separated by
commas (or AUDIT_HMAC_KEYS_FILE). The first key signs new events; every listed key verifies, so
a key is rotated by putting a new one first and keeping the old one listed for the events it
signed. Each link is HMAC-SHA256 over the event's canonical form, so someone who can write to
the app database but does not hold a key cannot recompute a chain that verifies."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def signing_keys() -> dict[str, bytes]:
    raw = str(getattr(settings, "AUDIT_HMAC_KEYS", "") or "")
    keys: dict[str, bytes] = {}
    for entry in filter(None, (e.strip() for e in raw.split(","))):
        kid, sep, b64 = entry.partition(":")
        try:
            key = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if not sep or not kid or len(kid) > 32 or len(key) < 32:
            raise ImproperlyConfigured(
                "AUDIT_HMAC_KEYS: each entry is key-id:base64 of at least 32 bytes"
            )
        keys.setdefault(kid, key)
    if not keys:
        raise ImproperlyConfigured("AUDIT_HMAC_KEYS is empty")
    return keys


def current_key_id() -> str:
    return next(iter(signing_keys()))


def sign(key_id: str, message: str) -> str | None:
    """HMAC-SHA256 hex of `message` under `key_id`; None when that key is not configured."""
    key = signing_keys().get(key_id)
    if key is None:
        return None
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
