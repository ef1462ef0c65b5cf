"""Field encryption at rest: AES-256-GCM, a random 96-bit nonce per value, key id stored alongside.

Stored form: ``gcm1:<key-id>:<base64(nonce || ciphertext+tag)>``. Keys come from
FIELD_ENCRYPTION_KEYS (``id:base64key,...``); the first encrypts, every listed key decrypts, so
keys rotate by prepending a new one, running ``manage.py rotate_keys``, then dropping the old.
"""

from __future__ import annotations

import base64
import binascii
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "gcm1"


class DecryptionError(Exception):
    """A stored secret cannot be decrypted (unknown key id or tampered ciphertext)."""


@lru_cache(maxsize=8)
def _parse_keys(spec: str) -> tuple[tuple[str, bytes], ...]:
    keys = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        key_id, sep, b64 = item.partition(":")
        if not sep or not key_id or ":" in key_id:
            raise ImproperlyConfigured(
                "FIELD_ENCRYPTION_KEYS entries must look like 'id:base64key'"
            )
        try:
            raw = base64.b64decode(b64, validate=True)
        except binascii.Error:
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS key '{key_id}' is not valid base64"
            ) from None
        if len(raw) != 32:
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS key '{key_id}' must be 32 bytes (AES-256)"
            )
        keys.append((key_id, raw))
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS holds no key")
    return tuple(keys)


def keys() -> tuple[tuple[str, bytes], ...]:
    return _parse_keys(settings.FIELD_ENCRYPTION_KEYS)


def current_key_id() -> str:
    return keys()[0][0]


def encrypt(plaintext: str, *, associated: str = "") -> str:
    key_id, key = keys()[0]
    nonce = os.urandom(12)
    blob = AESGCM(key).encrypt(nonce, plaintext.encode(), f"{key_id}|{associated}".encode())
    return f"{PREFIX}:{key_id}:{base64.b64encode(nonce + blob).decode()}"


def key_id_of(token: str) -> str:
    parts = token.split(":", 2)
    return parts[1] if len(parts) == 3 and parts[0] == PREFIX else ""


def decrypt(token: str, *, associated: str = "") -> str:
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise DecryptionError("not an encrypted value")
    key_id = parts[1]
    key = dict(keys()).get(key_id)
    if key is None:
        raise DecryptionError(f"no key with id '{key_id}' in FIELD_ENCRYPTION_KEYS")
    try:
        raw = base64.b64decode(parts[2], validate=True)
        return AESGCM(key).decrypt(raw[:12], raw[12:], f"{key_id}|{associated}".encode()).decode()
    except Exception:
        raise DecryptionError(
            f"value encrypted with key '{key_id}' failed authentication"
        ) from None


ENCRYPTED_FIELDS: list[tuple[str, str]] = []  # (app_label.Model, field) registered by apps


def register_encrypted_field(model_label: str, field: str) -> None:
    if (model_label, field) not in ENCRYPTED_FIELDS:
        ENCRYPTED_FIELDS.append((model_label, field))
