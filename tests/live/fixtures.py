"""Throwaway databases on the real servers, importable by any conftest:

    from tests.live.fixtures import mariadb_db, pg_db, sqlite_db  # noqa: F401

Each database is freshly created under a unique name and dropped at teardown, so tests never
see each other's tables. The `*_factory` fixtures hand out as many as a test needs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from masking.dialects.base import ConnectionParams
from tests import services


def unique_name() -> str:
    return f"maskflow_t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def pg_db_factory() -> Iterator[Callable[[], ConnectionParams]]:
    services.require_service("PostgreSQL", services.PG_HOST, services.PG_PORT)
    import psycopg
    from psycopg import sql

    created: list[str] = []

    def create() -> ConnectionParams:
        name = unique_name()
        with psycopg.connect(services.postgres_dsn(), autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        created.append(name)
        return services.postgres_params(name)

    yield create
    with psycopg.connect(services.postgres_dsn(), autocommit=True) as admin:
        for name in created:
            # FORCE: a test that forgot to close its connection must not leak the database.
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def pg_db(pg_db_factory: Callable[[], ConnectionParams]) -> ConnectionParams:
    """A fresh PostgreSQL database on 127.0.0.1:5432 (user postgres)."""
    return pg_db_factory()


@pytest.fixture
def mariadb_db_factory() -> Iterator[Callable[[], ConnectionParams]]:
    services.require_service("MariaDB", services.MARIADB_HOST, services.MARIADB_PORT)
    import MySQLdb

    created: list[str] = []

    def admin():  # type: ignore[no-untyped-def]
        return MySQLdb.connect(
            host=services.MARIADB_HOST,
            port=services.MARIADB_PORT,
            user=services.MARIADB_USER,
            password=services.MARIADB_PASSWORD,
            connect_timeout=10,
        )

    def create() -> ConnectionParams:
        name = unique_name()
        conn = admin()
        try:
            conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        finally:
            conn.close()
        created.append(name)
        return services.mariadb_params(name)

    yield create
    conn = admin()
    try:
        for name in created:
            conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


@pytest.fixture
def mariadb_db(mariadb_db_factory: Callable[[], ConnectionParams]) -> ConnectionParams:
    """A fresh MariaDB database on 127.0.0.1:3306 (user root); dialect "mysql"."""
    return mariadb_db_factory()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> ConnectionParams:
    """A new, empty SQLite file (created on first connect)."""
    return ConnectionParams(
        dialect="sqlite", database=str(tmp_path / "test.sqlite3"), options={"create": True}
    )


@pytest.fixture
def sqlserver_db_factory() -> Iterator[Callable[[], ConnectionParams]]:
    """Fresh databases on the SQL Server at 127.0.0.1:1433; skipped when none answers."""
    services.require_sqlserver()
    from masking.dialects import get_dialect

    try:  # pooled bulk-copy sessions would keep a database in use, and undroppable
        import mssql_python

        mssql_python.pooling(enabled=False)
    except ImportError:
        pass
    admin = get_dialect(services.sqlserver_params())
    created: list[str] = []

    def create() -> ConnectionParams:
        name = unique_name()
        admin.execute(f"CREATE DATABASE {name}")
        created.append(name)
        return services.sqlserver_params(name)

    yield create
    for name in created:
        # A closed connection's session ends a moment later (ODBC pooling): retry briefly.
        for attempt in range(20):
            try:
                admin.execute(f"DROP DATABASE {name}")
                break
            except Exception:
                if attempt == 19:
                    raise
                time.sleep(0.5)
    admin.close()


@pytest.fixture
def sqlserver_db(sqlserver_db_factory: Callable[[], ConnectionParams]) -> ConnectionParams:
    """A fresh database on the SQL Server at 127.0.0.1:1433 (babelfish_user)."""
    return sqlserver_db_factory()
