"""Faults during a run, live on PostgreSQL → PostgreSQL: the source's or the target's session is
terminated by the server (pg_terminate_backend, as an admin or a failover would) while the run
moves rows. Each leaves the target exactly as it was, compared row by row, and the execution
failed within a minute with a message that quotes no value."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from apps.connections.models import Connection
from apps.executions.models import Execution, ExecutionStatus
from apps.executions.services import execution_run, execution_start
from apps.workflows.models import Workflow
from tests import services
from tests.live.fixtures import pg_db_factory  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]

ROWS = 60_000
DDL = "CREATE TABLE people (id int PRIMARY KEY, email varchar(80) NOT NULL, note text)"


def _seed(db: str, rows: int, marker: str) -> None:
    with psycopg.connect(services.postgres_dsn(db), autocommit=True) as c:
        c.execute(DDL)
        c.execute(
            "INSERT INTO people SELECT g, 'person' || g || '@realmail.example', %s || g "
            "FROM generate_series(1, %s) g",
            (marker, rows),
        )


def _rows(db: str) -> list[tuple]:
    with psycopg.connect(services.postgres_dsn(db)) as c:
        return c.execute("SELECT * FROM people ORDER BY id").fetchall()


def _terminate_when_busy(db: str, stop: threading.Event, done: list[int]) -> None:
    """Terminate the run's sessions on `db` as soon as one runs a statement on the table (rows
    on the move: not the checks that come before, which read the catalog)."""
    with psycopg.connect(services.postgres_dsn(), autocommit=True) as admin:
        while not stop.is_set():
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                "AND pid <> pg_backend_pid() AND state = 'active' AND query ILIKE '%%people%%' "
                "AND query NOT ILIKE '%%pg_catalog%%' AND query NOT ILIKE '%%information_schema%%'",
                (db,),
            ).fetchall()
            if killed:
                done.append(len(killed))
                return
            time.sleep(0.005)


def _workflow(owner, src: str, tgt: str) -> Workflow:  # type: ignore[no-untyped-def]
    def conn(name: str, db: str) -> Connection:
        return Connection.objects.create(
            name=name, dialect="postgresql", host=services.PG_HOST, port=services.PG_PORT,
            database=db, username=services.PG_USER, created_by=owner,
        )  # fmt: skip

    workflow = Workflow(
        name="faults",
        source_connection=conn("src", src),
        target_connection=conn("tgt", tgt),
        created_by=owner,
        batch_size=500,
    )
    workflow.new_secret()
    workflow.save()
    workflow.mappings.create(
        source_schema="public", source_table="people", target_schema="public",
        target_table="people", copy_unmapped=True,
        column_mappings=[{"source_column": "email", "technique": "email"}],
    )  # fmt: skip
    return workflow


@pytest.mark.parametrize("victim", ["source", "target"])
def test_terminated_session_fails_the_run_and_leaves_the_target(
    victim,
    owner,
    pg_db_factory,  # noqa: F811
):
    src, tgt = pg_db_factory().database, pg_db_factory().database
    _seed(src, ROWS, "real note ")
    _seed(tgt, 50, "kept ")  # the target's own rows, which must survive the failed run
    before = _rows(tgt)
    workflow = _workflow(owner, src, tgt)
    execution = execution_start(workflow=workflow, by=owner, trigger="api")
    stop, done = threading.Event(), []
    killer = threading.Thread(
        target=_terminate_when_busy, args=(src if victim == "source" else tgt, stop, done)
    )
    killer.start()
    started = time.monotonic()
    try:
        execution_run(execution_id=execution.pk)
    finally:
        stop.set()
        killer.join()
    took = time.monotonic() - started
    execution = Execution.objects.get(pk=execution.pk)
    assert done, "no session was terminated: the run ended before the fault"
    assert execution.status == ExecutionStatus.FAILED, execution.status
    assert took < 60
    message = execution.error_message
    assert message and "realmail" not in message and "real note" not in message
    assert _rows(tgt) == before


def test_a_session_lost_during_the_checks_is_not_called_schema_drift(monkeypatch):
    """Killed while the run compares the workflow with the databases (seen live: AdminShutdown
    in the drift check), the run says the databases could not be reached, not that they drifted."""
    from apps.executions.services import run as run_module
    from masking import TerminalError

    monkeypatch.setattr(
        run_module,
        "workflow_drift",
        lambda workflow, **_: ["could not introspect the databases (AdminShutdown)"],
    )
    with pytest.raises(TerminalError) as caught:
        run_module.refuse_on_drift(None, None, None)
    assert str(caught.value).startswith("The databases could not be reached")
    assert "AdminShutdown" in str(caught.value) and "drift" not in str(caught.value).lower()
    monkeypatch.setattr(run_module, "workflow_drift", lambda workflow, **_: ["people: gone"])
    with pytest.raises(TerminalError, match="Schema drift"):
        run_module.refuse_on_drift(None, None, None)
