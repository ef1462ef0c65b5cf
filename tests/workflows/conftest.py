import sqlite3

import pytest

from apps.connections.models import Connection
from apps.core.demo import build_source, build_target


@pytest.fixture
def demo_conns(settings, tmp_path, owner):
    """Demo source (generated PII) and an empty target, registered as connections of `owner`."""
    settings.DATA_DIR = tmp_path
    build_source(tmp_path / "src.sqlite3", rows=40)
    build_target(tmp_path / "tgt.sqlite3")
    source = Connection.objects.create(
        name="demo-src", dialect="sqlite", database=str(tmp_path / "src.sqlite3"), created_by=owner
    )
    target = Connection.objects.create(
        name="demo-tgt", dialect="sqlite", database=str(tmp_path / "tgt.sqlite3"), created_by=owner
    )
    return source, target


@pytest.fixture
def target_with_customers(demo_conns):
    """The target holds an existing `customers` table shaped like the source."""
    _, target = demo_conns
    src = sqlite3.connect(demo_conns[0].database)
    ddl = src.execute("SELECT sql FROM sqlite_master WHERE name='customers'").fetchone()[0]
    db = sqlite3.connect(target.database)
    db.execute(ddl)
    db.commit()
    return demo_conns
