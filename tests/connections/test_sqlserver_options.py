"""SQL Server connection options in the form and the API, down to the driver's keywords."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.connections.models import Connection
from apps.connections.services import connection_params
from masking.dialects import get_dialect

pytestmark = pytest.mark.django_db

OPTIONS = {
    "encrypt": "strict",
    "trust_server_certificate": True,
    "host_name_in_certificate": "sql.example.com",
    "timeout": 20,
    "query_timeout": 600,
    "application_intent": "readonly",
    "packet_size": 8192,
}


def body(**over):
    data = {
        "name": "mssql-src",
        "dialect": "sqlserver",
        "host": "db.example.internal",
        "port": 1433,
        "database": "Sales",
        "username": "reader",
        "password": "Very-Secret-1",
        "options": dict(OPTIONS),
        "role_hint": "source",
    }
    data.update(over)
    return data


def keywords(conn_str: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in conn_str.rstrip(";").split(";"))


def test_api_saves_every_option_and_each_reaches_the_driver(api, owner):
    response = api(owner).post("/api/connections", body(), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["data"]["options"] == OPTIONS
    params = connection_params(Connection.objects.get(name="mssql-src"))
    kw = keywords(get_dialect(params).connection_string("drv"))
    assert (kw["Encrypt"], kw["TrustServerCertificate"]) == ("strict", "yes")
    assert kw["HostNameInCertificate"] == "sql.example.com"
    assert kw["ApplicationIntent"] == "ReadOnly" and kw["Packet Size"] == "8192"
    assert kw["Connection Timeout"] == "20" and params.timeout == 20
    assert keywords(get_dialect(params).bulk_connection_string())["Packet Size"] == "8192"


@pytest.mark.parametrize(
    "override, field",
    [
        ({"encrypt": "maybe"}, "options.encrypt"),
        ({"packet_size": 64}, "options.packet_size"),
        ({"query_timeout": "soon"}, "options.query_timeout"),
        ({"application_intent": "readonly_please"}, "options.application_intent"),
        ({"host_name_in_certificate": "x y"}, "options.host_name_in_certificate"),
        ({"timeout": 0}, "options.timeout"),
    ],
)
def test_api_refuses_bad_options(api, owner, override, field):
    response = api(owner).post(
        "/api/connections", body(options={**OPTIONS, **override}), format="json"
    )
    assert response.status_code == 400
    assert field in {d["field"] for d in response.json()["error"]["details"]}
    assert Connection.objects.count() == 0


@pytest.mark.parametrize("dialect", ["sqlserver", "postgresql", "mysql"])
@pytest.mark.parametrize("key", ["sslmode", "ssl_mode"])
@pytest.mark.parametrize("value", [{"require": True}, ["require"]])
def test_tls_modes_of_another_shape_are_refused_not_crashed_on(api, owner, dialect, key, value):
    """An object or list where a TLS mode goes (of this dialect or another) is a 400 naming
    the option, never a server error."""
    response = api(owner).post(
        "/api/connections",
        body(dialect=dialect, port=None, role_hint="source", options={key: value}),
        format="json",
    )
    assert response.status_code == 400, response.content
    assert f"options.{key}" in {d["field"] for d in response.json()["error"]["details"]}
    assert Connection.objects.count() == 0


def test_read_only_intent_only_for_source_connections(api, owner):
    response = api(owner).post("/api/connections", body(role_hint="both"), format="json")
    assert response.status_code == 400
    fields = {d["field"] for d in response.json()["error"]["details"]}
    assert "options.application_intent" in fields


def form_data(**over):
    data = {
        "name": "mssql-page",
        "dialect": "sqlserver",
        "host": "db.example.internal",
        "port": "1433",
        "database": "Sales",
        "username": "reader",
        "password": "Very-Secret-1",
        "role_hint": "source",
        "encrypt": "strict",
        "trust_server_certificate": "on",
        "host_name_in_certificate": "sql.example.com",
        "timeout": "20",
        "query_timeout": "600",
        "application_intent": "readonly",
        "packet_size": "8192",
    }
    data.update(over)
    return data


def test_form_saves_every_option_and_shows_them_again(page, owner):
    assert page(owner).post(reverse("connections:create"), form_data()).status_code == 302
    conn = Connection.objects.get(name="mssql-page")
    assert conn.options == OPTIONS
    edit = page(owner).get(reverse("connections:edit", args=[conn.pk])).content.decode()
    for snippet in ('value="sql.example.com"', 'value="8192"', 'value="600"'):
        assert snippet in edit
    assert '<option value="strict" selected>' in edit
    assert '<option value="readonly" selected>' in edit


def test_form_defaults_keep_the_options_small(page, owner):
    data = form_data(
        encrypt="yes",
        host_name_in_certificate="",
        timeout="",
        query_timeout="",
        application_intent="readwrite",
        packet_size="",
        role_hint="both",
    )
    data.pop("trust_server_certificate")
    assert page(owner).post(reverse("connections:create"), data).status_code == 302
    conn = Connection.objects.get(name="mssql-page")
    assert conn.options == {"encrypt": True, "trust_server_certificate": False}


def test_form_refuses_read_only_intent_for_a_target(page, owner):
    response = page(owner).post(reverse("connections:create"), form_data(role_hint="target"))
    assert response.status_code == 400 and b"only as a source" in response.content
    assert Connection.objects.count() == 0
