import pytest
from django.urls import reverse

from apps.connections.models import Connection
from tests.connections.factories import ConnectionFactory, make_sqlite_file

pytestmark = pytest.mark.django_db


def form_data(**over):
    data = {
        "name": "lite-page",
        "dialect": "sqlite",
        "database": str(make_sqlite_file()),
        "role_hint": "source",
        "host": "",
        "port": "",
        "username": "",
        "password": "",
    }
    data.update(over)
    return data


@pytest.mark.parametrize(
    "who, status", [("admin", 200), ("owner", 200), ("other", 200), ("anonymous", 302)]
)
def test_list_and_browse_visible_to_every_signed_in_user(
    page, admin_user, owner, other_user, who, status
):
    conn = ConnectionFactory(created_by=owner, name="visible-one")
    actor = {"admin": admin_user, "owner": owner, "other": other_user, "anonymous": None}[who]
    client = page(actor)
    response = client.get(reverse("connections:list"))
    assert response.status_code == status
    if status == 200:
        assert b"visible-one" in response.content
        assert client.get(reverse("connections:browse", args=[conn.pk])).status_code == 200


@pytest.mark.parametrize(
    "who, status", [("admin", 200), ("owner", 200), ("other", 403), ("anonymous", 302)]
)
def test_edit_and_delete_pages_owner_or_admin(page, admin_user, owner, other_user, who, status):
    conn = ConnectionFactory(created_by=owner)
    actor = {"admin": admin_user, "owner": owner, "other": other_user, "anonymous": None}[who]
    client = page(actor)
    assert client.get(reverse("connections:edit", args=[conn.pk])).status_code == status
    assert client.get(reverse("connections:delete", args=[conn.pk])).status_code == status
    client.post(reverse("connections:delete", args=[conn.pk]))
    assert Connection.objects.filter(pk=conn.pk).exists() == (status != 200)


def test_create_through_form(page, owner):
    response = page(owner).post(reverse("connections:create"), form_data())
    assert response.status_code == 302
    conn = Connection.objects.get(name="lite-page")
    assert conn.created_by == owner and conn.role_hint == "source"


def test_form_errors_are_shown_and_nothing_saved(page, owner):
    response = page(owner).post(reverse("connections:create"), form_data(database="/etc/passwd"))
    assert response.status_code == 400 and b"allowed folder" in response.content
    response = page(owner).post(
        reverse("connections:create"),
        form_data(dialect="postgresql", host="", database="db", port="99999"),
    )
    assert response.status_code == 400
    assert b"between 1 and 65535" in response.content
    assert Connection.objects.count() == 0


def test_sqlserver_form_saves_tls_options_and_password_encrypted(page, owner):
    data = form_data(
        name="mssql",
        dialect="sqlserver",
        host="db.example.internal",
        port="1433",
        database="Sales",
        username="sa",
        password="Very-Secret-1",
        encrypt="yes",
        trust_server_certificate="on",
    )
    assert page(owner).post(reverse("connections:create"), data).status_code == 302
    conn = Connection.objects.get(name="mssql")
    assert conn.options == {"encrypt": True, "trust_server_certificate": True}
    assert conn.get_password() == "Very-Secret-1" and "Very-Secret-1" not in conn.password_encrypted
    edit = page(owner).get(reverse("connections:edit", args=[conn.pk]))
    assert b"Very-Secret-1" not in edit.content and b"Stored encrypted" in edit.content


def test_inline_test_before_saving(page, owner):
    response = page(owner).post(
        reverse("connections:test_form"), form_data(), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and b"Connection OK" in response.content
    assert Connection.objects.count() == 0


def test_row_test_button_updates_last_result(page, owner):
    conn = ConnectionFactory(created_by=owner)
    response = page(owner).post(reverse("connections:test", args=[conn.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b"status-ok" in response.content
    conn.refresh_from_db()
    assert conn.last_test_ok is True


def test_schema_browser_partials(page, owner):
    conn = ConnectionFactory(created_by=owner)
    client = page(owner)
    tables = client.get(reverse("connections:browse_tables", args=[conn.pk]), {"schema": "main"})
    assert b"people" in tables.content and b"pets" in tables.content
    cols = client.get(
        reverse("connections:browse_columns", args=[conn.pk]), {"schema": "main", "table": "pets"}
    )
    assert b"owner_id" in cols.content and b"NOT NULL" in cols.content and b"PK" in cols.content
    assert b"<code></code>" not in cols.content  # no default: an empty cell, not an empty box
    import sqlite3

    db = sqlite3.connect(conn.database)
    db.execute("CREATE TABLE IF NOT EXISTS toys (id INTEGER PRIMARY KEY, kind TEXT DEFAULT 'ball')")
    db.close()
    toys = client.get(
        reverse("connections:browse_columns", args=[conn.pk]), {"schema": "main", "table": "toys"}
    )
    assert b"<code>&#x27;ball&#x27;</code>" in toys.content, toys.content
    bad = client.get(
        reverse("connections:browse_columns", args=[conn.pk]), {"schema": "main", "table": "x';--"}
    )
    assert b"invalid table name" in bad.content
