"""Every SQL Server connection option reaches both drivers: pyodbc (statements) and mssql-python
(bulk copy). The live side is in tests/live/test_sqlserver_connect.py."""

from __future__ import annotations

import pytest

from masking.dialects import ConnectionParams, get_dialect
from masking.dialects import sqlserver_options as opts

ALL = {
    "encrypt": "strict",
    "trust_server_certificate": False,
    "host_name_in_certificate": "db.example.com",
    "query_timeout": 45,
    "application_intent": "readonly",
    "packet_size": 16384,
}


def params(**options) -> ConnectionParams:
    return ConnectionParams(
        dialect="sqlserver",
        host="h",
        port=1433,
        database="d",
        username="u",
        password="pw",
        options=options,
        timeout=7,
    )


def keywords(conn_str: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in conn_str.rstrip(";").split(";"))


def test_every_option_reaches_the_odbc_connection_string():
    kw = keywords(get_dialect(params(**ALL)).connection_string("drv"))
    assert kw["Encrypt"] == "strict" and kw["TrustServerCertificate"] == "no"
    assert kw["HostNameInCertificate"] == "db.example.com"
    assert kw["ApplicationIntent"] == "ReadOnly" and kw["Packet Size"] == "16384"
    assert kw["Connection Timeout"] == "7"


def test_every_option_reaches_mssql_python_and_its_bulk_copy_core():
    from mssql_python.connection_string_parser import _ConnectionStringParser
    from mssql_python.helpers import connstr_to_pycore_params

    conn_str = get_dialect(params(**ALL)).bulk_connection_string()
    parsed = _ConnectionStringParser(validate_keywords=True)._parse(conn_str)
    core = connstr_to_pycore_params(parsed)
    assert core["encryption"] == "strict" and core["trust_server_certificate"] == "no"
    assert core["host_name_in_certificate"] == "db.example.com"
    assert core["application_intent"] == "ReadOnly" and core["packet_size"] == 16384


def test_defaults_encrypt_verify_certificate_and_send_no_intent():
    kw = keywords(get_dialect(params()).connection_string("drv"))
    assert kw["Encrypt"] == "yes" and kw["TrustServerCertificate"] == "no"
    assert "ApplicationIntent" not in kw and "HostNameInCertificate" not in kw
    assert "Packet Size" not in kw
    assert keywords(get_dialect(params()).bulk_connection_string())["Packet Size"] == "8000"


@pytest.mark.parametrize(
    "value, expected",
    [(True, "yes"), (False, "no"), ("no", "no"), ("STRICT", "strict"), ("bogus", "yes")],
)
def test_encrypt_values(value, expected):
    assert opts.Options.of(params(encrypt=value)).encrypt == expected


def test_query_timeout_is_set_on_the_pyodbc_connection(monkeypatch):
    import pyodbc

    class Conn:
        timeout = 0

    seen = {}

    def fake_connect(conn_str, autocommit, timeout):
        seen.update(conn_str=conn_str, login_timeout=timeout)
        return Conn()

    monkeypatch.setattr(pyodbc, "connect", fake_connect)
    dialect = get_dialect(params(driver="drv", query_timeout=45))
    conn = dialect.connect()
    assert conn.timeout == 45 and seen["login_timeout"] == 7
    dialect._conn = None


@pytest.mark.parametrize(
    "options, field",
    [
        ({"encrypt": "maybe"}, "options.encrypt"),
        ({"application_intent": "sideways"}, "options.application_intent"),
        ({"packet_size": 100}, "options.packet_size"),
        ({"packet_size": "x"}, "options.packet_size"),
        ({"query_timeout": -1}, "options.query_timeout"),
        ({"host_name_in_certificate": "a;b=c"}, "options.host_name_in_certificate"),
    ],
)
def test_bad_values_are_named(options, field):
    assert field in opts.problems(options)


def test_good_values_have_no_problem():
    assert opts.problems(ALL) == {}
