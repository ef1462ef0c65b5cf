"""The app database out of reach for 10 s while a run moves rows, live: PostgreSQL as the app
database, a run PostgreSQL → PostgreSQL in a worker process of its own. The app database only
records runs, so a short outage costs none: the run goes on, waits before its commit until the
outage ends, commits and records success. An outage longer than the worker's patience
(EXECUTION_APP_DB_WAIT_SECONDS) rolls the target back, and the run ends failed, with a message
that quotes no value, as soon as the database is back."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests import services
from tests.live.fixtures import pg_db_factory  # noqa: F401
from tests.live.test_faults import _rows, _seed

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[2]
ROWS = 600_000
OUTAGE = 10.0

SEED = """
from apps.accounts.models import User
from apps.connections.models import Connection
from apps.workflows.models import Workflow
from apps.executions.services import execution_start
u = User.objects.create_user(username="ci-owner", password="x-unused-password-123", role="user")
def conn(name, db):
    return Connection.objects.create(name=name, dialect="postgresql", host={host!r}, port={port},
                                     database=db, username={user!r}, created_by=u)
wf = Workflow(name="outage", source_connection=conn("src", {src!r}),
              target_connection=conn("tgt", {tgt!r}), created_by=u, batch_size=5000)
wf.new_secret()
wf.save()
wf.mappings.create(source_schema="public", source_table="people", target_schema="public",
                   target_table="people", copy_unmapped=True,
                   column_mappings=[{{"source_column": "email", "technique": "email"}}])
print("EXECUTION", execution_start(workflow=wf, by=u, trigger="api").pk)
"""
RUN = """
from apps.executions.services import execution_run
execution_run(execution_id={pk})
"""


def manage(env: dict, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def app_query(app_db: str, query: str, *params) -> list[tuple]:
    with psycopg.connect(services.postgres_dsn(app_db)) as c:
        return c.execute(query, params).fetchall()


def block_for(app_db: str, seconds: float, window: list[float]) -> None:
    """Refuse every connection to the app database and end the open ones, for `seconds`."""
    name = sql.Identifier(app_db)
    with psycopg.connect(services.postgres_dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(name))
        window.append(time.monotonic())
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (app_db,)
        )
        time.sleep(seconds)
        admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(name))
        window.append(time.monotonic())


def prepare(pg_db_factory, wait_seconds: int) -> tuple[dict, str, str, int]:  # noqa: F811
    app_db, src, tgt = (pg_db_factory().database for _ in range(3))
    _seed(src, ROWS, "real note ")
    _seed(tgt, 50, "kept ")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{services.PG_USER}@{services.PG_HOST}:{services.PG_PORT}/"
        f"{app_db}",
        "CELERY_BROKER_URL": "memory://",
        "CELERY_RESULT_BACKEND": "cache+memory://",
        "EXECUTION_APP_DB_WAIT_SECONDS": str(wait_seconds),
    }
    migrated = manage(env, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    seed = SEED.format(
        host=services.PG_HOST, port=services.PG_PORT, user=services.PG_USER, src=src, tgt=tgt
    )
    seeded = manage(env, "shell", "-c", seed)
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    return env, app_db, tgt, int(seeded.stdout.split("EXECUTION")[1].split()[0])


def loading(tgt: str) -> bool:
    """Whether a session is copying rows into the target's table: rows are on the move (a
    poll of the execution's progress may see them only once the table is done)."""
    with psycopg.connect(services.postgres_dsn(), autocommit=True) as admin:
        return bool(
            admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND state = 'active'"
                " AND query ILIKE 'COPY%%people%%'",
                (tgt,),
            ).fetchall()
        )


def run_through_outage(
    env: dict, app_db: str, tgt: str, pk: int
) -> tuple[subprocess.Popen, list[float]]:
    """Start the run in a worker process; cut the app database off once rows are moving."""
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", RUN.format(pk=pk)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if loading(tgt):
            break
        assert worker.poll() is None, worker.communicate()
        time.sleep(0.01)
    else:
        pytest.fail("the run never loaded rows")
    window: list[float] = []
    cutter = threading.Thread(target=block_for, args=(app_db, OUTAGE, window))
    cutter.start()
    cutter.join()
    return worker, window


def test_a_ten_second_outage_costs_the_run_nothing(pg_db_factory):  # noqa: F811
    env, app_db, tgt, pk = prepare(pg_db_factory, wait_seconds=45)
    worker, (cut, back) = run_through_outage(env, app_db, tgt, pk)
    out, err = worker.communicate(timeout=120)
    ended = time.monotonic()
    assert worker.returncode == 0, err[-3000:]
    # the run reached its commit during the outage: it waited for the app database
    assert "unreachable while checking in before the commit" in err, err[-3000:]
    assert ended - back < 60
    status, message, rows = app_query(
        app_db, "SELECT status, error_message, rows_processed FROM executions WHERE id = %s", pk
    )[0]
    assert (status, message, rows) == ("success", "", ROWS)
    after = _rows(tgt)
    assert len(after) == ROWS
    assert not [r for r in after if "realmail" in r[1]]  # every e-mail masked
    assert after[0][2] == "real note 1"  # unmapped columns copied as they are
    actions = [a for (a,) in app_query(app_db, "SELECT action FROM audit_events ORDER BY id")]
    assert actions[-1] == "execution.finish"


def test_an_outage_longer_than_the_wait_rolls_the_target_back(pg_db_factory):  # noqa: F811
    env, app_db, tgt, pk = prepare(pg_db_factory, wait_seconds=2)
    before = _rows(tgt)
    worker, (cut, back) = run_through_outage(env, app_db, tgt, pk)
    out, err = worker.communicate(timeout=120)
    assert worker.returncode != 0  # it could not record anything, and said so in its log
    assert "giving up" in err and "realmail" not in err and "real note" not in err
    assert _rows(tgt) == before  # nothing committed that the app could not report
    # Once the database is back, a worker's reaper ends the run that lost its worker.
    reaped = manage(
        {**env, "EXECUTION_STALE_SECONDS": "1"},
        "shell", "-c",
        "from apps.executions.services import execution_reap; print('REAPED', execution_reap())",
    )  # fmt: skip
    assert f"REAPED [{pk}]" in reaped.stdout, reaped.stderr[-2000:]
    assert time.monotonic() - back < 60
    status, message = app_query(
        app_db, "SELECT status, error_message FROM executions WHERE id = %s", pk
    )[0]
    assert status == "failed" and "rolled back" in message
    assert "realmail" not in message and "real note" not in message
