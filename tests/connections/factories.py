import sqlite3
from pathlib import Path

import factory
from django.conf import settings

from apps.connections.models import Connection
from tests.factories import UserFactory


def make_sqlite_file(name: str = "src.sqlite3") -> Path:
    path = Path(settings.DATA_DIR) / "testdbs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE IF NOT EXISTS people (id INTEGER PRIMARY KEY, email VARCHAR(80) NOT NULL "
        "UNIQUE, name TEXT);"
        "CREATE TABLE IF NOT EXISTS pets (id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL "
        "REFERENCES people(id), name VARCHAR(20));"
    )
    db.close()
    return path


class ConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connection

    name = factory.Sequence(lambda n: f"conn-{n}")
    dialect = "sqlite"
    database = factory.LazyFunction(lambda: str(make_sqlite_file()))
    created_by = factory.SubFactory(UserFactory)
    role_hint = "both"


class PostgresConnectionFactory(ConnectionFactory):
    dialect = "postgresql"
    host = "127.0.0.1"
    port = 5432
    database = "postgres"
    username = "postgres"
