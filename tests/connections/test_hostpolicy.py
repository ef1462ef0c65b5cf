"""The connection host policy: at save, at every connect, resolved once and pinned; refusals
audited; test connection rate-limited."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from apps.audit.models import AuditEvent
from apps.connections import hostpolicy, services
from apps.connections.models import Connection
from masking import ConnectionFailed
from masking.dialects import ConnectionParams
from tests import services as svc


def _resolving(monkeypatch, table: dict[str, list[str]]) -> list[str]:
    """Make getaddrinfo answer from `table`; returns the list of names asked, in order."""
    asked: list[str] = []

    def fake(host, port, *args, **kwargs):
        asked.append(host)
        if host not in table:
            raise socket.gaierror("unknown")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in table[host]]

    monkeypatch.setattr(hostpolicy.socket, "getaddrinfo", fake)
    return asked


@pytest.mark.parametrize(
    ("text", "network", "name", "ports"),
    [
        ("10.0.0.0/8", "10.0.0.0/8", "", None),
        ("192.0.2.7:5432", "192.0.2.7/32", "", (5432, 5432)),
        ("db.example.org:1433-1434", None, "db.example.org", (1433, 1434)),
        ("*.Example.org", None, "*.example.org", None),
        ("[2001:db8::/32]:5432", "2001:db8::/32", "", (5432, 5432)),
        ("fe80::/10", "fe80::/10", "", None),
    ],
)
def test_rules_parse(text, network, name, ports):
    rule = hostpolicy.parse_rule(text)
    assert (str(rule.network) if rule.network else None, rule.name, rule.ports) == (
        network,
        name,
        ports,
    )


@pytest.mark.parametrize("bad", ["10.0.0.0/8:0", "db:70000", "a b", "db:5-1"])
def test_bad_rules_are_refused(bad):
    with pytest.raises(ValueError):
        hostpolicy.parse_rule(bad)


def test_metadata_and_link_local_are_refused_by_default(settings):
    settings.CONNECTION_DENIED_HOSTS = []
    for host in ("169.254.169.254", "169.254.0.1", "fe80::1", "metadata.google.internal"):
        with pytest.raises(hostpolicy.HostRefused):
            hostpolicy.check(host, 5432)
    assert hostpolicy.check("127.0.0.1", 5432) == [ipaddress.ip_address("127.0.0.1")]


def test_a_name_resolving_into_a_denied_network_is_refused(settings, monkeypatch):
    settings.CONNECTION_DENIED_HOSTS = ["10.20.0.0/16"]
    _resolving(monkeypatch, {"innocent.example.org": ["192.0.2.1", "10.20.3.4"]})
    with pytest.raises(hostpolicy.HostRefused, match="denied"):
        hostpolicy.check("innocent.example.org", 5432)


def test_ports_and_allow_list(settings, monkeypatch):
    _resolving(monkeypatch, {"db.example.org": ["192.0.2.10"], "other.example.org": ["192.0.2.11"]})
    settings.CONNECTION_DENIED_HOSTS = ["192.0.2.0/24:6379"]
    settings.CONNECTION_ALLOWED_HOSTS = ["*.example.org:5432", "198.51.100.0/24"]
    assert hostpolicy.check("db.example.org", 5432)
    with pytest.raises(hostpolicy.HostRefused, match="denied"):
        hostpolicy.check("db.example.org", 6379)  # the broker's port
    with pytest.raises(hostpolicy.HostRefused, match="not in the allowed"):
        hostpolicy.check("db.example.org", 3306)
    with pytest.raises(hostpolicy.HostRefused, match="not in the allowed"):
        hostpolicy.check("203.0.113.5", 5432)


def test_the_checked_address_is_the_one_connected_to(settings, monkeypatch):
    """DNS rebinding: the name is resolved once; later answers do not matter."""
    settings.CONNECTION_DENIED_HOSTS = ["10.0.0.0/8"]
    asked = _resolving(monkeypatch, {"db.example.org": ["192.0.2.10"]})
    params = ConnectionParams("postgresql", "db.example.org", 5432, "d", "u", "p")
    pinned = hostpolicy.pinned_params(params)
    assert pinned.host == "192.0.2.10" and asked == ["db.example.org"]
    # SQL Server named instance keeps its instance name.
    ss = ConnectionParams("sqlserver", "db.example.org\\SALES", 1433, "d", "u", "p")
    assert hostpolicy.pinned_params(ss).host == "192.0.2.10\\SALES"
    # With the certificate's name verified, the name is kept: the check still ran.
    verified = ConnectionParams(
        "postgresql", "db.example.org", 5432, "d", options={"sslmode": "verify-full"}
    )
    assert hostpolicy.pinned_params(verified).host == "db.example.org"
    _resolving(monkeypatch, {"db.example.org": ["10.1.2.3"]})  # rebound
    with pytest.raises(hostpolicy.HostRefused):
        hostpolicy.pinned_params(verified)


def _refusals() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="connection.refused").order_by("pk"))


def test_save_refuses_metadata_address_and_audits_it(api, owner):
    response = api(owner).post(
        "/api/connections",
        {"name": "meta", "dialect": "postgresql", "host": "169.254.169.254", "database": "x"},
        format="json",
    )
    assert response.status_code == 400
    assert any(d["field"] == "host" for d in response.json()["error"]["details"])
    assert not Connection.objects.filter(name="meta").exists()
    (event,) = _refusals()
    assert event.status == AuditEvent.Status.FAILURE and event.details["at"] == "save"
    assert event.actor_id == owner.pk


def test_connect_refuses_after_the_policy_changed_and_audits_it(api, owner, settings):
    created = api(owner).post(
        "/api/connections",
        {"name": "pg", "dialect": "postgresql", "host": "localhost", "port": svc.PG_PORT,
         "database": "postgres", "username": "postgres"},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    conn = Connection.objects.get(name="pg")
    settings.CONNECTION_DENIED_HOSTS = ["127.0.0.0/8", "::1/128"]
    tested = api(owner).post(f"/api/connections/{conn.pk}/test").json()["data"]
    assert tested["ok"] is False and tested["category"] == "permission_denied"
    with pytest.raises(ConnectionFailed):  # the worker's way in, too
        services.connection_open(conn)
    assert [e.details["at"] for e in _refusals()] == ["connect", "connect"]


def test_test_connection_is_rate_limited_per_user(api, owner, other_user, settings):
    settings.CONNECTION_TEST_RATE = "2/min"
    conn = Connection.objects.create(
        name="lite", dialect="sqlite", database=str(settings.DATA_DIR / "x.sqlite3"),
        created_by=owner,
    )  # fmt: skip
    url = f"/api/connections/{conn.pk}/test"
    assert [api(owner).post(url).status_code for _ in range(3)] == [200, 200, 429]
    limited = api(owner).post(url)
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    assert api(other_user).post(url).status_code == 200  # per user


def test_test_connection_page_says_when_rate_limited(page, owner, settings):
    settings.CONNECTION_TEST_RATE = "1/min"
    form = {"name": "t", "dialect": "sqlite", "role_hint": "both"}
    form["database"] = str(settings.DATA_DIR / "y.sqlite3")
    client = page(owner)
    first = client.post("/connections/test/", form, HTTP_HX_REQUEST="true")
    second = client.post("/connections/test/", form, HTTP_HX_REQUEST="true")
    assert first.status_code == 200 and "Too many" not in first.content.decode()
    assert second.status_code == 200 and "Too many connection tests" in second.content.decode()
