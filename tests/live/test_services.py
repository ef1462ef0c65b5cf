"""The service guard skips locally and fails in CI."""

from __future__ import annotations

import socket

import pytest

from tests import services


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again once the socket is released


def test_missing_service_skips_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    port = _closed_port()
    with pytest.raises(pytest.skip.Exception, match=f"Thing not reachable at 127.0.0.1:{port}"):
        services.require_service("Thing", "127.0.0.1", port)


def test_missing_service_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Thing not reachable"):
        services.require_service("Thing", "127.0.0.1", _closed_port())


def test_reachable_service_passes(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert services.require_service("Thing", "127.0.0.1", server.getsockname()[1]) is None


def test_connection_helpers():
    dsn = services.postgres_dsn("db1")
    assert f"host={services.PG_HOST}" in dsn and "dbname=db1" in dsn
    params = services.mariadb_params("db2")
    assert (params.dialect, params.database, params.port) == ("mysql", "db2", services.MARIADB_PORT)
    assert services.postgres_params("db3").dialect == "postgresql"


def test_missing_sqlserver_skips_even_in_ci(monkeypatch):
    """SQL Server is the one optional service: a CI machine without the stand-in skips."""
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(services, "SQLSERVER_PORT", _closed_port())
    with pytest.raises(pytest.skip.Exception, match="SQL Server not reachable"):
        services.require_sqlserver()


def test_sqlserver_fixture_users_get_the_marker():
    """`-m sqlserver` selects every test that uses a SQL Server fixture (tests/conftest.py)."""
    from tests.conftest import pytest_collection_modifyitems

    class Item:
        def __init__(self, fixturenames):
            self.fixturenames, self.marks = fixturenames, []

        def add_marker(self, mark):
            self.marks.append(mark.name)

    uses, other = Item(["tmp_path", "sqlserver_db_factory"]), Item(["pg_db"])
    pytest_collection_modifyitems(None, [uses, other])
    assert uses.marks == ["sqlserver"] and other.marks == []
