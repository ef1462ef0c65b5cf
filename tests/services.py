"""Where the live test services are, and how tests behave when one is missing.

Locally a missing service skips its tests; in CI (env CI=true) it fails them, so a broken
service can never turn a red build green. SQL Server is the one exception: it skips everywhere,
CI included, because a machine may not have built the TDS stand-in (see require_sqlserver).
No Django here: the engine's tests use it too."""

from __future__ import annotations

import os
import socket

import pytest

PG_HOST = os.environ.get("MASKFLOW_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("MASKFLOW_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("MASKFLOW_TEST_PG_USER", "postgres")
PG_PASSWORD = os.environ.get("MASKFLOW_TEST_PG_PASSWORD", "")
MARIADB_HOST = os.environ.get("MASKFLOW_TEST_MARIADB_HOST", "127.0.0.1")
MARIADB_PORT = int(os.environ.get("MASKFLOW_TEST_MARIADB_PORT", "3306"))
MARIADB_USER = os.environ.get("MASKFLOW_TEST_MARIADB_USER", "root")
MARIADB_PASSWORD = os.environ.get("MASKFLOW_TEST_MARIADB_PASSWORD", "")


def is_reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or, in CI, fail) the calling test when the service does not accept connections."""
    if is_reachable(host, port):
        return
    message = f"{name} not reachable at {host}:{port}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def postgres_dsn(database: str = "postgres") -> str:
    """A libpq connection string (key=value form, so no URL-escaping pitfalls)."""
    parts = [
        f"host={PG_HOST}",
        f"port={PG_PORT}",
        f"user={PG_USER}",
        f"dbname={database}",
        "connect_timeout=10",
    ]
    if PG_PASSWORD:
        parts.append(f"password={PG_PASSWORD}")
    return " ".join(parts)


def postgres_params(database: str = "postgres"):  # -> ConnectionParams
    from masking.dialects.base import ConnectionParams

    return ConnectionParams(
        dialect="postgresql",
        host=PG_HOST,
        port=PG_PORT,
        database=database,
        username=PG_USER,
        password=PG_PASSWORD,
    )


def mariadb_params(database: str = "test"):  # -> ConnectionParams
    from masking.dialects.base import ConnectionParams

    return ConnectionParams(
        dialect="mysql",
        host=MARIADB_HOST,
        port=MARIADB_PORT,
        database=database,
        username=MARIADB_USER,
        password=MARIADB_PASSWORD,
    )


SQLSERVER_HOST = os.environ.get("MASKFLOW_TEST_MSSQL_HOST", "127.0.0.1")
SQLSERVER_PORT = int(os.environ.get("MASKFLOW_TEST_MSSQL_PORT", "1433"))
SQLSERVER_USER = os.environ.get("MASKFLOW_TEST_MSSQL_USER", "babelfish_user")
SQLSERVER_PASSWORD = os.environ.get("MASKFLOW_TEST_MSSQL_PASSWORD", "Bbf_test_12345678")


def require_sqlserver() -> None:
    """SQL Server is optional on every machine, CI included: its tests skip when nothing answers
    on its port, whatever CI says (the project's machines run a TDS stand-in there when they
    have built one: scripts/test.sh starts it). Deliberately not require_service: a CI machine
    without the stand-in is not a broken build."""
    if not is_reachable(SQLSERVER_HOST, SQLSERVER_PORT):
        pytest.skip(
            f"SQL Server not reachable at {SQLSERVER_HOST}:{SQLSERVER_PORT} "
            "(optional, also in CI: start the TDS stand-in to run these tests)"
        )


def sqlserver_params(database: str = "master"):  # -> ConnectionParams
    from masking.dialects.base import ConnectionParams

    return ConnectionParams(
        dialect="sqlserver",
        host=SQLSERVER_HOST,
        port=SQLSERVER_PORT,
        database=database,
        username=SQLSERVER_USER,
        password=SQLSERVER_PASSWORD,
        options={"encrypt": False, "trust_server_certificate": True},
    )
