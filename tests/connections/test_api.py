import pytest

from apps.audit.models import AuditEvent
from apps.connections.models import Connection
from tests.connections.factories import ConnectionFactory, make_sqlite_file
from tests.services import require_service

pytestmark = pytest.mark.django_db


def pg_body(**over):
    body = {
        "name": "pg-main",
        "dialect": "postgresql",
        "host": "127.0.0.1",
        "port": 5432,
        "database": "postgres",
        "username": "postgres",
        "password": "Sup3r-Secret-pw",
        "options": {"sslmode": "disable"},
        "role_hint": "source",
    }
    body.update(over)
    return body


def test_create_masks_password_and_never_returns_it(api, owner):
    response = api(owner).post("/api/connections", pg_body(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["success"] is True and body["message"] == "Connection created successfully"
    data = body["data"]
    assert data["password"] == "******" and "Sup3r-Secret-pw" not in response.content.decode()
    assert data["created_by"] == {"id": owner.pk, "username": owner.username}
    assert data["options"] == {"sslmode": "disable"} and data["last_test"]["ok"] is None
    listed = api(owner).get("/api/connections").json()["data"]
    assert [c["name"] for c in listed] == ["pg-main"] and "Sup3r-Secret-pw" not in str(listed)
    event = AuditEvent.objects.get(action="connection.create")
    assert "Sup3r-Secret-pw" not in str(event.details)


def test_sqlite_connection_create(api, owner):
    path = make_sqlite_file()
    response = api(owner).post(
        "/api/connections",
        {"name": "lite", "dialect": "sqlite", "database": str(path)},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["data"]["host"] == "" and response.json()["data"]["database"] == str(
        path.resolve()
    )


BAD = [
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"port": 70000}, "port"),
    ({"port": "abc"}, "port"),
    ({"dialect": "oracle"}, "dialect"),
    ({"host": ""}, "host"),
    ({"host": "db;rm -rf"}, "host"),
    ({"options": {"bogus": 1}}, "options.bogus"),
    ({"options": {"sslmode": "whatever"}}, "options.sslmode"),
    ({"options": "notadict"}, "options"),
    ({"role_hint": "sideways"}, "role_hint"),
    ({"dialect": "sqlite", "database": "/etc/passwd"}, "database"),
    ({"dialect": "sqlite", "database": "../../../../tmp/x.db"}, "database"),
]


@pytest.mark.parametrize("override, field", BAD, ids=[f for _, f in BAD])
def test_bad_input_is_400_with_field_error_and_nothing_saved(api, owner, override, field):
    response = api(owner).post("/api/connections", pg_body(**override), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert field in {d["field"] for d in error["details"]}
    assert Connection.objects.count() == 0


def test_duplicate_name_is_refused(api, owner):
    assert api(owner).post("/api/connections", pg_body(), format="json").status_code == 201
    response = api(owner).post("/api/connections", pg_body(name="PG-MAIN"), format="json")
    assert response.status_code == 400 and response.json()["error"]["details"][0]["field"] == "name"
    assert Connection.objects.count() == 1


def test_update_keeps_password_when_blank_or_masked(api, owner):
    conn_id = api(owner).post("/api/connections", pg_body(), format="json").json()["data"]["id"]
    for pw in ("", "******"):
        r = api(owner).put(
            f"/api/connections/{conn_id}", pg_body(name="renamed", password=pw), format="json"
        )
        assert r.status_code == 200
    conn = Connection.objects.get(pk=conn_id)
    assert conn.name == "renamed" and conn.get_password() == "Sup3r-Secret-pw"
    api(owner).put(
        f"/api/connections/{conn_id}", pg_body(name="renamed", password="new-pass-1"), format="json"
    )
    conn.refresh_from_db()
    assert conn.get_password() == "new-pass-1"
    event = AuditEvent.objects.filter(action="connection.update").latest("seq")
    assert event.details["changes"]["credentials"] == "changed" and "new-pass-1" not in str(
        event.details
    )


# --- permission matrix rows (seed 8.4): connections ---------------------------------------------
ROWS = [
    # action, method, path-suffix, admin, owner, other, anonymous
    ("view all", "get", "", 200, 200, 200, 401),
    ("view one", "get", "/{id}", 200, 200, 200, 401),
    ("edit", "put", "/{id}", 200, 200, 403, 401),
    ("test", "post", "/{id}/test", 200, 200, 200, 401),
    ("delete", "delete", "/{id}", 200, 200, 403, 401),
]


@pytest.mark.parametrize("who", ["admin", "owner", "other", "anonymous"])
@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_permission_matrix_connections_api(api, admin_user, owner, other_user, who, row):
    action, method, suffix, *expected = row
    conn = ConnectionFactory(created_by=owner, name="owned")
    actor = {"admin": admin_user, "owner": owner, "other": other_user, "anonymous": None}[who]
    status = expected[["admin", "owner", "other", "anonymous"].index(who)]
    path = "/api/connections" + suffix.format(id=conn.pk)
    body = (
        {"name": "owned-renamed", "dialect": "sqlite", "database": conn.database}
        if method == "put"
        else None
    )
    before = list(Connection.objects.values())
    response = getattr(api(actor), method)(path, body, format="json")
    assert response.status_code == status, response.content
    if status >= 400:
        assert list(Connection.objects.values()) == before  # a refused request changes nothing


@pytest.mark.parametrize("who, status", [("admin", 201), ("owner", 201), ("anonymous", 401)])
def test_permission_matrix_create(api, admin_user, owner, who, status):
    actor = {"admin": admin_user, "owner": owner, "anonymous": None}[who]
    response = api(actor).post("/api/connections", pg_body(name=f"c-{who}"), format="json")
    assert response.status_code == status
    assert Connection.objects.filter(name=f"c-{who}").exists() == (status == 201)


def test_unknown_connection_is_404(api, owner):
    assert api(owner).get("/api/connections/99999").status_code == 404


# --- test connection ---------------------------------------------------------------------------
def test_test_connection_sqlite_ok_is_stored_and_audited(api, owner):
    conn = ConnectionFactory(created_by=owner)
    response = api(owner).post(f"/api/connections/{conn.pk}/test")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["ok"] is True and data["category"] == "ok"
    conn.refresh_from_db()
    assert conn.last_test_ok is True and conn.last_test_at is not None
    assert AuditEvent.objects.filter(action="connection.test", status="success").count() == 1


def test_test_connection_missing_sqlite_file(api, owner, settings):
    conn = ConnectionFactory(
        created_by=owner, database=str(settings.DATA_DIR / "testdbs" / "nope.sqlite3")
    )
    data = api(owner).post(f"/api/connections/{conn.pk}/test").json()["data"]
    assert data["ok"] is False and data["category"] == "database_not_found"


def test_test_unsaved_closed_port_is_unreachable_without_password(api, owner):
    body = pg_body(port=1, password="Very-Secret-Pw-77", options={"timeout": 3})
    response = api(owner).post("/api/connections/test", body, format="json")
    data = response.json()["data"]
    assert data["ok"] is False and data["category"] == "unreachable"
    assert "Very-Secret-Pw-77" not in response.content.decode()
    assert Connection.objects.count() == 0


@pytest.mark.live
def test_test_connection_postgres_login_failed_and_db_missing(api, owner):
    require_service("PostgreSQL", "127.0.0.1", 5432)
    ok_resp = (
        api(owner).post("/api/connections/test", pg_body(password=""), format="json").json()["data"]
    )
    assert ok_resp["ok"] is True, ok_resp
    missing = (
        api(owner)
        .post("/api/connections/test", pg_body(database="no_such_db_xyz"), format="json")
        .json()["data"]
    )
    assert missing["category"] == "database_not_found"
    bad_user = (
        api(owner)
        .post(
            "/api/connections/test",
            pg_body(username="no_such_role", password="Pw-123456"),
            format="json",
        )
        .json()["data"]
    )
    assert (
        bad_user["category"] in {"login_failed", "permission_denied"}
        and "Pw-123456" not in bad_user["message"]
    )


# --- schema browsing ------------------------------------------------------------------------------
def test_browse_sqlite_schemas_tables_columns(api, owner):
    conn = ConnectionFactory(created_by=owner)
    client = api(owner)
    assert client.get(f"/api/connections/{conn.pk}/schemas").json()["data"] == ["main"]
    tables = client.get(f"/api/connections/{conn.pk}/schemas/main/tables").json()["data"]
    assert {t["name"] for t in tables} == {"people", "pets"}
    cols = client.get(f"/api/connections/{conn.pk}/schemas/main/tables/pets/columns").json()["data"]
    by_name = {c["name"]: c for c in cols["columns"]}
    assert by_name["id"]["is_primary_key"] is True and by_name["owner_id"]["nullable"] is False
    assert by_name["name"]["category"] == "string" and by_name["name"]["max_length"] == 20
    assert cols["foreign_keys"][0]["ref_table"] == "people"
    assert AuditEvent.objects.filter(action="schema.browse").count() == 3


@pytest.mark.parametrize(
    "schema, table",
    [("main", "x'; DROP TABLE people; --"), ("main", 'a"b'), ("ma;in", "people"), ("main", "p--x")],
)
def test_hostile_names_in_paths_are_400(api, owner, schema, table):
    from urllib.parse import quote

    conn = ConnectionFactory(created_by=owner)
    response = api(owner).get(
        f"/api/connections/{conn.pk}/schemas/{quote(schema, safe='')}"
        f"/tables/{quote(table, safe='')}/columns"
    )
    assert response.status_code == 400
    import sqlite3

    db = sqlite3.connect(conn.database)
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name='people'").fetchone()[0] == 1


def test_unknown_table_is_404(api, owner):
    conn = ConnectionFactory(created_by=owner)
    assert (
        api(owner).get(f"/api/connections/{conn.pk}/schemas/main/tables/ghost/columns").status_code
        == 404
    )


def test_sqlite_path_is_checked_at_every_open_not_only_on_save(api, owner, settings, tmp_path):
    """A file swapped for a symlink after the connection was saved must not be followed out of
    the allowed folders."""
    import sqlite3

    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    settings.SQLITE_ALLOWED_DIRS = [str(allowed)]
    secret = outside / "secret.sqlite3"
    db = sqlite3.connect(secret)
    db.execute("CREATE TABLE secret_table (id INTEGER PRIMARY KEY)")
    db.close()
    inside = allowed / "db.sqlite3"
    sqlite3.connect(inside).execute("CREATE TABLE inside_table (id INTEGER)").connection.close()
    created = api(owner).post(
        "/api/connections",
        {"name": "lite", "dialect": "sqlite", "database": str(inside)},
        format="json",
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["data"]["id"]
    tables = api(owner).get(f"/api/connections/{pk}/schemas/main/tables", {"refresh": "1"})
    assert [t["name"] for t in tables.json()["data"]] == ["inside_table"]

    inside.unlink()
    inside.symlink_to(secret)
    tables = api(owner).get(f"/api/connections/{pk}/schemas/main/tables", {"refresh": "1"})
    assert tables.status_code == 502 and "secret_table" not in tables.content.decode()
    tested = api(owner).post(f"/api/connections/{pk}/test").json()["data"]
    assert tested["ok"] is False and tested["category"] == "permission_denied"


def test_nul_byte_in_sqlite_path_is_a_field_error(api, owner, settings):
    response = api(owner).post(
        "/api/connections",
        {"name": "lite", "dialect": "sqlite", "database": f"{settings.DATA_DIR}/a\x00b.db"},
        format="json",
    )
    assert response.status_code == 400
    assert [d["field"] for d in response.json()["error"]["details"]] == ["database"]
