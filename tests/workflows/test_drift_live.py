"""Schema drift on a real PostgreSQL source: the detail page lists it and runs are refused."""

import psycopg
import pytest

from apps.connections.models import Connection
from apps.workflows.models import Workflow
from apps.workflows.selectors import workflow_drift
from tests import services
from tests.live.fixtures import pg_db, pg_db_factory  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.live]


def test_altered_source_column_is_listed_as_drift(api, page, owner, pg_db, settings, tmp_path):  # noqa: F811
    with psycopg.connect(services.postgres_dsn(pg_db.database), autocommit=True) as db:
        db.execute(
            "CREATE TABLE people (id serial PRIMARY KEY, email varchar(80) NOT NULL UNIQUE, "
            "nickname varchar(30))"
        )
        db.execute(
            "INSERT INTO people (email, nickname) VALUES ('a@example.com', 'al'), "
            "('b@example.com', 'bo')"
        )
    settings.DATA_DIR = tmp_path
    source = Connection.objects.create(
        name="pg-src",
        dialect="postgresql",
        host=pg_db.host,
        port=pg_db.port,
        database=pg_db.database,
        username=pg_db.username,
        created_by=owner,
    )
    target = Connection.objects.create(
        name="lite-tgt", dialect="sqlite", database=str(tmp_path / "t.sqlite3"), created_by=owner
    )
    import sqlite3

    sqlite3.connect(tmp_path / "t.sqlite3").close()
    body = {
        "name": "drifty",
        "source_connection_id": source.pk,
        "target_connection_id": target.pk,
        "mappings": [
            {
                "source_schema": "public",
                "source_table": "people",
                "target_schema": "main",
                "target_table": "people",
                "create_target": True,
                "copy_unmapped": True,
                "column_mappings": [
                    {"source_column": "email", "technique": "email"},
                    {"source_column": "nickname", "technique": "first_name"},
                ],
            }
        ],
    }
    response = api(owner).post("/api/workflows", body, format="json")
    assert response.status_code == 201, response.json()
    workflow = Workflow.objects.get(name="drifty")
    assert workflow_drift(workflow=workflow) == []

    with psycopg.connect(services.postgres_dsn(pg_db.database), autocommit=True) as db:
        db.execute("ALTER TABLE people DROP COLUMN nickname")
        db.execute("ALTER TABLE people ALTER COLUMN email TYPE text")
    drift = workflow_drift(workflow=workflow)
    assert any("nickname" in d and "not found in the source" in d for d in drift), drift
    assert any(
        "email" in d and "type changed from character varying to text" in d for d in drift
    ), drift
    detail = page(owner).get(f"/workflows/{workflow.pk}/")
    assert b"Schema drift" in detail.content and b"nickname" in detail.content
    from apps.executions.models import Execution
    from apps.executions.services import execution_run, execution_start

    execution = execution_start(workflow=workflow, by=owner, trigger="api")
    execution_run(execution_id=execution.pk)
    execution = Execution.objects.get(pk=execution.pk)
    assert execution.status == "failed"
    assert "Schema drift" in execution.error_message and "nickname" in execution.error_message
    import sqlite3

    tables = (
        sqlite3.connect(tmp_path / "t.sqlite3")
        .execute("SELECT name FROM sqlite_master WHERE type='table'")
        .fetchall()
    )
    assert tables == []  # refused before anything was written
