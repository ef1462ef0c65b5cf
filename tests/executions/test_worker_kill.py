"""A real Celery worker dies (SIGKILL) in the middle of a run: the target keeps its rows, the
reaper marks the execution failed, and a re-run succeeds.

The worker must share the app database with the test, which pytest-django's test database
cannot do, so the whole scenario runs through subprocesses on a file-based app database in a
temporary MASKFLOW_DATA_DIR (with the serverless file-system broker), checked with sqlite3."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.executions.scenario import dump, make_source, make_target

ROOT = Path(__file__).resolve().parents[2]
ROWS = 300_000
EXISTING = [(9001, "kept.row@target.test", "Kept", "Row", "Nowhere")]

SEED = """
from apps.accounts.models import User
from apps.connections.models import Connection
from apps.workflows.models import Workflow, TableMapping
from apps.executions.services import execution_start
from tests.executions.scenario import CUSTOMER_RULES
u = User.objects.create_user(username="ci-owner", password="x-unused-password-123", role="user")
src = Connection.objects.create(name="src", dialect="sqlite", database={src!r}, created_by=u)
tgt = Connection.objects.create(name="tgt", dialect="sqlite", database={tgt!r}, created_by=u)
wf = Workflow(name="kill-test", source_connection=src, target_connection=tgt, created_by=u,
              batch_size=2000)
wf.new_secret()
wf.save()
TableMapping.objects.create(workflow=wf, source_schema="main", source_table="customers",
                            target_schema="main", target_table="customers",
                            column_mappings=CUSTOMER_RULES, copy_unmapped=True)
print("EXECUTION", execution_start(workflow=wf, by=u, trigger="api").pk)
"""


def manage(env: dict, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def execution_row(app_db: Path, pk: int) -> tuple:
    db = sqlite3.connect(app_db, timeout=30)
    try:
        return db.execute(
            "SELECT status, rows_processed, error_message FROM executions WHERE id = ?", (pk,)
        ).fetchone()
    finally:
        db.close()


def test_killed_worker_is_reaped_and_rerun_succeeds(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    app_db = data / "app.sqlite3"
    src = make_source(tmp_path / "source.sqlite3", customers=ROWS, orders=0)
    tgt = make_target(tmp_path / "target.sqlite3", rows=EXISTING)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "MASKFLOW_DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{app_db}",
        "CELERY_BROKER_URL": "filesystem://",
        "SQLITE_ALLOWED_DIRS": str(tmp_path),
    }
    env.pop("CELERY_RESULT_BACKEND", None)
    assert manage(env, "migrate", "--noinput").returncode == 0
    seeded = manage(env, "shell", "-c", SEED.format(src=str(src), tgt=str(tgt)))
    assert seeded.returncode == 0, seeded.stderr
    pk = int(seeded.stdout.split("EXECUTION")[1].split()[0])
    assert execution_row(app_db, pk)[0] == "queued"

    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"kill-{uuid.uuid4().hex[:6]}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # Killed while the run's target transaction is open: SQLite keeps a rollback journal
        # beside the file from the transaction's first write until it ends.
        journal = Path(f"{tgt}-journal")
        deadline = time.monotonic() + 90
        row = execution_row(app_db, pk)
        while time.monotonic() < deadline and not (row[0] == "running" and journal.exists()):
            time.sleep(0.02)
            row = execution_row(app_db, pk)
        assert row[0] == "running" and journal.exists(), row
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.communicate(timeout=30)
    assert worker.returncode == -signal.SIGKILL

    # The dead worker's open target transaction is rolled back: the target holds what it held.
    assert dump(tgt, "customers") == EXISTING
    time.sleep(2)
    reaped = manage(
        env,
        "shell",
        "-c",
        "from apps.executions.services import execution_reap; "
        "print('REAPED', execution_reap(stale_after_seconds=1))",
    )
    assert reaped.returncode == 0, reaped.stderr
    assert f"REAPED [{pk}]" in reaped.stdout
    status, _, error = execution_row(app_db, pk)
    assert status == "failed" and "worker lost" in error

    rerun = manage(env, "run_workflow", "kill-test", "--wait", timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    rows = dump(tgt, "customers")
    assert len(rows) == ROWS and rows[0][0] == 1
    source_emails = {r[1] for r in dump(src, "customers")[:1000]}
    assert not source_emails & {r[1] for r in rows}
