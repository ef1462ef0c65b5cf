"""Secret settings from files (`NAME_FILE=/path`, as Docker and Kubernetes mount secrets)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.envfiles import SECRET_SETTINGS, read_setting

ROOT = Path(__file__).resolve().parents[2]


def test_plain_variable_and_default():
    assert read_setting("SECRET_KEY", "d", {"SECRET_KEY": "plain"}) == "plain"
    assert read_setting("SECRET_KEY", "d", {}) == "d"


def test_file_value_without_trailing_newline(tmp_path):
    path = tmp_path / "key"
    path.write_text("from-a-file\n")
    assert read_setting("SECRET_KEY", "d", {"SECRET_KEY_FILE": str(path)}) == "from-a-file"


def test_only_secret_settings_read_files(tmp_path):
    path = tmp_path / "tz"
    path.write_text("Europe/Paris")
    assert "TIME_ZONE" not in SECRET_SETTINGS
    assert read_setting("TIME_ZONE", "UTC", {"TIME_ZONE_FILE": str(path)}) == "UTC"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: {"SECRET_KEY": "x", "SECRET_KEY_FILE": str(p)}, "not both"),
        (lambda p: {"SECRET_KEY_FILE": str(p.parent / "missing")}, "cannot read"),
        (lambda p: {"SECRET_KEY_FILE": str(p.parent)}, "cannot read"),
    ],
)
def test_bad_files_are_clear_errors_without_the_value(tmp_path, setup, message):
    path = tmp_path / "key"
    path.write_text("s3cret-value")
    with pytest.raises(ImproperlyConfigured) as caught:
        read_setting("SECRET_KEY", "", setup(path))
    assert message in str(caught.value) and "s3cret-value" not in str(caught.value)


def test_empty_and_binary_files_are_refused(tmp_path):
    empty, binary = tmp_path / "empty", tmp_path / "bin"
    empty.write_text("\n")
    binary.write_bytes(b"\xff\xfe\x00")
    for path, message in ((empty, "is empty"), (binary, "not UTF-8")):
        with pytest.raises(ImproperlyConfigured, match=message):
            read_setting("FIELD_ENCRYPTION_KEYS", "", {"FIELD_ENCRYPTION_KEYS_FILE": str(path)})


def _settings_in_child(env: dict[str, str]) -> subprocess.CompletedProcess:
    code = (
        "import hashlib, json, django; django.setup(); from django.conf import settings as s;"
        "h = lambda v: hashlib.sha256(v.encode()).hexdigest();"
        "print(json.dumps({'secret': h(s.SECRET_KEY), 'fields': h(s.FIELD_ENCRYPTION_KEYS),"
        " 'db': s.DATABASES['default']['NAME']}))"
    )
    base = {k: v for k, v in os.environ.items() if k not in SECRET_SETTINGS}
    base = {k: v for k, v in base.items() if not k.endswith("_FILE")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_settings_take_their_secrets_from_files(tmp_path):
    secret = "k" * 20 + "file-secret-key-0123456789abcdefghijklmnop"
    keys = "k1:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="
    db = tmp_path / "app.sqlite3"
    files = {"SECRET_KEY": secret, "FIELD_ENCRYPTION_KEYS": keys, "DATABASE_URL": f"sqlite:///{db}"}
    env = {"MASKFLOW_ENV": "production", "ALLOWED_HOSTS": "example.org"}
    env["MASKFLOW_DATA_DIR"] = str(tmp_path)
    env["AUDIT_HMAC_KEYS"] = "a1:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="
    for name, value in files.items():
        (tmp_path / name).write_text(value + "\n")
        env[f"{name}_FILE"] = str(tmp_path / name)
    done = _settings_in_child(env)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["secret"] == hashlib.sha256(secret.encode()).hexdigest()
    assert got["fields"] == hashlib.sha256(keys.encode()).hexdigest()
    assert got["db"] == str(db)


def test_production_refuses_to_start_on_an_unreadable_secret_file(tmp_path):
    env = {
        "MASKFLOW_ENV": "production",
        "ALLOWED_HOSTS": "example.org",
        "MASKFLOW_DATA_DIR": str(tmp_path),
        "SECRET_KEY_FILE": str(tmp_path / "nope"),
    }
    done = _settings_in_child(env)
    assert done.returncode != 0
    assert "SECRET_KEY_FILE: cannot read" in done.stderr
