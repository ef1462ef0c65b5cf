"""Live-database fixtures (defined in tests/live/fixtures.py so other suites can import them)."""

from tests.live.fixtures import (  # noqa: F401
    mariadb_db,
    mariadb_db_factory,
    pg_db,
    pg_db_factory,
    sqlite_db,
    sqlserver_db,
    sqlserver_db_factory,
)
