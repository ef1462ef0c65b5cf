"""A stored database password only ever goes where it was saved for: an edit, a test or an API
call that points the connection somewhere else must type the password again. A fake PostgreSQL
server on 127.0.0.1 asks every client for a clear-text password and records what it gets."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.connections.models import Connection
from tests.fakepg import FakePostgres

pytestmark = pytest.mark.django_db

STORED = "Stored-Secret-PW-41"
TYPED = "Typed-In-This-Request-7"


@pytest.fixture
def fake():
    with FakePostgres() as server:
        yield server


@pytest.fixture
def victim(owner):
    # Port 9 (discard) is closed here: testing the saved connection reaches nothing, whatever
    # the outcome, and the fake server is only reached through an edit.
    conn = Connection.objects.create(
        name="victim",
        dialect="postgresql",
        host="127.0.0.1",
        port=9,
        database="payroll",
        username="app",
        options={"sslmode": "disable", "timeout": 3},
        created_by=owner,
    )
    conn.set_password(STORED)
    conn.save()
    return conn


def api_body(conn, **over) -> dict:
    body = {
        "name": conn.name,
        "dialect": conn.dialect,
        "host": conn.host,
        "port": conn.port,
        "database": conn.database,
        "username": conn.username,
        "options": conn.options,
        "role_hint": conn.role_hint,
    }
    body.update(over)
    return body


def form_body(conn, **over) -> dict:
    body = {
        "name": conn.name,
        "dialect": conn.dialect,
        "host": conn.host,
        "port": str(conn.port),
        "database": conn.database,
        "username": conn.username,
        "password": "",
        "sslmode": "disable",
        "role_hint": conn.role_hint,
    }
    body.update(over)
    return body


def unchanged(conn) -> bool:
    fresh = Connection.objects.get(pk=conn.pk)
    return (fresh.host, fresh.port, fresh.database, fresh.get_password()) == (
        "127.0.0.1",
        9,
        "payroll",
        STORED,
    )


def password_error(response) -> bool:
    if response.status_code != 400:
        return False
    return [d["field"] for d in response.json()["error"]["details"]] == ["password"]


@pytest.mark.parametrize("who", ["owner", "admin"])
@pytest.mark.parametrize("password", [None, "", "******"])
def test_api_edit_to_another_port_then_test_sends_no_stored_password(
    api, owner, admin_user, victim, fake, who, password
):
    client = api(owner if who == "owner" else admin_user)
    body = api_body(victim, port=fake.port)
    if password is not None:
        body["password"] = password
    assert password_error(client.put(f"/api/connections/{victim.pk}", body, format="json"))
    assert unchanged(victim)
    client.post(f"/api/connections/{victim.pk}/test")
    assert client.post("/api/connections/test", body, format="json").status_code == 200
    assert fake.passwords == []


@pytest.mark.parametrize(
    "over",
    [
        {"host": "localhost"},
        {"database": "other_db"},
        {"dialect": "mysql", "options": {}},
        {"port": 5433},
    ],
)
def test_every_destination_change_needs_the_password(api, owner, victim, over):
    response = api(owner).put(
        f"/api/connections/{victim.pk}", api_body(victim, **over), format="json"
    )
    assert password_error(response)
    assert unchanged(victim)


def test_sqlite_path_change_needs_the_password(api, owner, settings):
    from tests.connections.factories import make_sqlite_file

    conn = Connection.objects.create(
        name="lite", dialect="sqlite", database=str(make_sqlite_file("a.sqlite3")), created_by=owner
    )
    conn.set_password(STORED)
    conn.save()
    other = str(make_sqlite_file("b.sqlite3"))
    body = {"name": "lite", "dialect": "sqlite", "database": other}
    assert password_error(api(owner).put(f"/api/connections/{conn.pk}", body, format="json"))
    body["password"] = TYPED
    assert api(owner).put(f"/api/connections/{conn.pk}", body, format="json").status_code == 200


def test_edits_that_keep_the_destination_keep_the_stored_password(api, owner, victim):
    body = api_body(victim, name="victim-renamed", username="app2", role_hint="source")
    assert api(owner).put(f"/api/connections/{victim.pk}", body, format="json").status_code == 200
    assert Connection.objects.get(pk=victim.pk).get_password() == STORED


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_form_edit_and_test_to_another_port_send_no_stored_password(
    page, owner, admin_user, victim, fake, who
):
    client = page(owner if who == "owner" else admin_user)
    body = form_body(victim, port=str(fake.port))
    tested = client.post(reverse("connections:test_form_existing", args=[victim.pk]), body)
    assert tested.status_code == 200 and "Type the password again" in tested.content.decode()
    saved = client.post(reverse("connections:edit", args=[victim.pk]), body)
    assert saved.status_code == 400 and "Type the password again" in saved.content.decode()
    assert unchanged(victim)
    client.post(reverse("connections:test", args=[victim.pk]))
    assert fake.passwords == []


def test_a_password_typed_in_the_same_request_is_the_one_sent(api, page, owner, victim, fake):
    """The fake server does record passwords: what the user typed reaches it, never more."""
    client = page(owner)
    body = form_body(victim, port=str(fake.port), password=TYPED)
    client.post(reverse("connections:test_form_existing", args=[victim.pk]), body)
    assert fake.passwords == [TYPED]

    moved = api_body(victim, port=fake.port, password=TYPED)
    assert api(owner).put(f"/api/connections/{victim.pk}", moved, format="json").status_code == 200
    api(owner).post(f"/api/connections/{victim.pk}/test")
    assert fake.passwords == [TYPED, TYPED]
    assert STORED not in fake.passwords
