"""Connection passwords by reference (`env:NAME`, `file:/path`): read at connect, never stored,
shown or logged, and limited to the sources the admin allows."""

from __future__ import annotations

import logging
import uuid

import pytest

from apps.connections import passwordref, services
from apps.connections.models import Connection
from tests import services as svc


@pytest.fixture
def allow(settings, tmp_path):
    settings.CONNECTION_PASSWORD_ENV = ["PGPASS_*"]
    settings.CONNECTION_PASSWORD_FILE_DIRS = [str(tmp_path / "secrets")]
    (tmp_path / "secrets").mkdir()
    return tmp_path / "secrets"


def test_references_are_recognised_exactly():
    assert passwordref.is_reference("env:PGPASS_UAT")
    assert passwordref.is_reference("file:/run/secrets/db")
    for plain in ("env:", "env:A B", "hunter2", "file:relative", "environment:X"):
        assert not passwordref.is_reference(plain)
    assert passwordref.resolve("hunter2") == "hunter2"


def test_only_allowed_sources(allow, monkeypatch, tmp_path):
    monkeypatch.setenv("PGPASS_UAT", "from-env")
    monkeypatch.setenv("SECRET_KEY", "never-sent")
    assert passwordref.resolve("env:PGPASS_UAT") == "from-env"
    with pytest.raises(passwordref.PasswordRefError, match="not an allowed"):
        passwordref.resolve("env:SECRET_KEY")
    (allow / "db").write_text("from-file\n")
    assert passwordref.resolve(f"file:{allow / 'db'}") == "from-file"
    outside = tmp_path / "outside"
    outside.write_text("not-yours")
    (allow / "link").symlink_to(outside)  # a symlink leaving the folder
    for ref in (f"file:{outside}", f"file:{allow / 'link'}"):
        with pytest.raises(passwordref.PasswordRefError, match="not in an allowed folder"):
            passwordref.resolve(ref)
    monkeypatch.delenv("PGPASS_UAT")
    with pytest.raises(passwordref.PasswordRefError, match="not set in this process"):
        passwordref.resolve("env:PGPASS_UAT")


def test_a_reference_outside_the_allowed_sources_is_refused_at_save(api, owner, allow):
    response = api(owner).post(
        "/api/connections",
        {"name": "x", "dialect": "mysql", "host": "127.0.0.1", "database": "test",
         "username": "u", "password": "env:SECRET_KEY"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400
    assert [d["field"] for d in response.json()["error"]["details"]] == ["password"]


@pytest.fixture
def mariadb_user():
    """A MariaDB login with a real password (MariaDB checks it; the local PostgreSQL trusts)."""
    svc.require_service("MariaDB", svc.MARIADB_HOST, svc.MARIADB_PORT)
    import MySQLdb

    name, password = f"uat_{uuid.uuid4().hex[:8]}", f"Pw-{uuid.uuid4().hex}"
    admin = MySQLdb.connect(
        host=svc.MARIADB_HOST, port=svc.MARIADB_PORT, user=svc.MARIADB_USER,
        password=svc.MARIADB_PASSWORD, autocommit=True,
    )  # fmt: skip
    admin.cursor().execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'")
    admin.cursor().execute(f"GRANT SELECT ON test.* TO '{name}'@'%'")
    yield name, password
    admin.cursor().execute(f"DROP USER '{name}'@'%'")
    admin.close()


@pytest.mark.live
def test_env_password_connects_and_never_reaches_db_api_or_logs(
    api, owner, allow, monkeypatch, mariadb_user, caplog
):
    user, password = mariadb_user
    caplog.set_level(logging.DEBUG)
    created = api(owner).post(
        "/api/connections",
        {"name": "uat", "dialect": "mysql", "host": svc.MARIADB_HOST, "port": svc.MARIADB_PORT,
         "database": "test", "username": user, "password": "env:PGPASS_UAT"},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    conn = Connection.objects.get(name="uat")
    assert conn.get_password() == "env:PGPASS_UAT"  # the reference is what is stored

    monkeypatch.setenv("PGPASS_UAT", "wrong-password")
    failed = api(owner).post(f"/api/connections/{conn.pk}/test").json()["data"]
    assert failed["ok"] is False and failed["category"] == "login_failed"

    monkeypatch.setenv("PGPASS_UAT", password)
    tested = api(owner).post(f"/api/connections/{conn.pk}/test").json()["data"]
    assert tested["ok"] is True, tested
    with services.connection_open(conn) as dialect:  # how a worker opens it for a run
        cur = dialect.connect().cursor()
        cur.execute("SELECT CURRENT_USER()")
        assert cur.fetchone()[0].startswith(user)
    shown = api(owner).get(f"/api/connections/{conn.pk}").content.decode()
    stored = Connection.objects.filter(pk=conn.pk).values_list("password_encrypted", flat=True)
    assert password not in shown and password not in stored[0]
    assert password not in caplog.text

    monkeypatch.delenv("PGPASS_UAT")
    unset = api(owner).post(f"/api/connections/{conn.pk}/test").json()["data"]
    assert unset["ok"] is False and "not set in this process" in unset["message"]
