import base64
import os

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection as db

from apps.connections.models import Connection
from apps.core import crypto
from tests.connections.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def new_key(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


def raw_column(pk):
    with db.cursor() as cur:
        cur.execute("SELECT password_encrypted FROM connections WHERE id = %s", [pk])
        return cur.fetchone()[0]


def test_ciphertext_differs_from_plaintext_and_between_encryptions(owner):
    a = ConnectionFactory(created_by=owner)
    b = ConnectionFactory(created_by=owner)
    for c in (a, b):
        c.set_password("S3cret-pass!")
        c.save()
    raw_a, raw_b = raw_column(a.pk), raw_column(b.pk)
    assert "S3cret-pass!" not in raw_a and raw_a != raw_b
    assert raw_a.startswith("gcm1:dev:")
    assert Connection.objects.get(pk=a.pk).get_password() == "S3cret-pass!"


def test_tampered_ciphertext_is_refused(owner):
    c = ConnectionFactory(created_by=owner)
    c.set_password("x-secret")
    token = c.password_encrypted
    flipped = token[:-4] + ("A" if token[-4] != "A" else "B") + token[-3:]
    c.password_encrypted = flipped
    with pytest.raises(crypto.DecryptionError):
        c.get_password()


def test_bad_key_configuration_is_reported(settings):
    for spec in ("nokeyid", "k1:not-base64!!", "k1:" + base64.b64encode(b"short").decode(), ""):
        settings.FIELD_ENCRYPTION_KEYS = spec
        with pytest.raises(ImproperlyConfigured):
            crypto.keys()


def test_rotate_keys_reencrypts_everything_and_old_key_can_go(settings, owner, capsys):
    conns = [ConnectionFactory(created_by=owner) for _ in range(3)]
    for i, c in enumerate(conns):
        c.set_password(f"pw-{i}")
        c.save()
    old = settings.FIELD_ENCRYPTION_KEYS
    fresh = new_key("k2")
    settings.FIELD_ENCRYPTION_KEYS = f"{fresh},{old}"
    call_command("rotate_keys")
    out = capsys.readouterr().out
    assert "re_encrypted=3" in out
    settings.FIELD_ENCRYPTION_KEYS = fresh  # old key removed
    for i, c in enumerate(conns):
        stored = Connection.objects.get(pk=c.pk)
        assert stored.password_encrypted.startswith("gcm1:k2:")
        assert stored.get_password() == f"pw-{i}"
    call_command("rotate_keys")
    assert "already_current=3" in capsys.readouterr().out


def test_rotate_keys_aborts_without_changes_when_a_key_is_missing(settings, owner):
    from django.core.management.base import CommandError

    c = ConnectionFactory(created_by=owner)
    c.set_password("pw")
    c.save()
    before = raw_column(c.pk)
    settings.FIELD_ENCRYPTION_KEYS = new_key("k9")
    with pytest.raises(CommandError):
        call_command("rotate_keys")
    assert raw_column(c.pk) == before
