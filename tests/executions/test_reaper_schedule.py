"""A worker started without beat (no -B, no `celery beat`) still reaps runs whose worker died,
on its own schedule: nobody has to open an executions page first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.executions.test_worker_kill import execution_row, manage

ROOT = Path(__file__).resolve().parents[2]

STALE_RUN = """
import datetime as dt
from django.utils import timezone
from apps.accounts.models import User
from apps.connections.models import Connection
from apps.executions.models import Execution
from apps.workflows.models import Workflow
u, _ = User.objects.get_or_create(username="ci-owner", defaults={{"role": "user"}})
db = {db!r}
src, _ = Connection.objects.get_or_create(
    name="src", defaults=dict(dialect="sqlite", database=db, created_by=u))
tgt, _ = Connection.objects.get_or_create(
    name="tgt", defaults=dict(dialect="sqlite", database=db, created_by=u))
wf = Workflow.objects.filter(name="reap").first()
if wf is None:
    wf = Workflow(name="reap", source_connection=src, target_connection=tgt, created_by=u)
    wf.new_secret()
    wf.save()
old = timezone.now() - dt.timedelta(minutes=10)
e = Execution.objects.create(workflow=wf, executed_by=u, status="running", started_at=old,
                             heartbeat_at=old)
print("EXECUTION", e.pk)
"""


def stale_run(env: dict, db: Path) -> int:
    seeded = manage(env, "shell", "-c", STALE_RUN.format(db=str(db)))
    assert seeded.returncode == 0, seeded.stderr
    return int(seeded.stdout.split("EXECUTION")[1].split()[0])


def wait_for_status(app_db: Path, pk: int, status: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    current = execution_row(app_db, pk)[0]
    while time.monotonic() < deadline and current != status:
        time.sleep(0.2)
        current = execution_row(app_db, pk)[0]
    return current


def test_a_worker_without_beat_reaps_on_its_own_schedule(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    app_db = data / "app.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "MASKFLOW_DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{app_db}",
        "CELERY_BROKER_URL": "filesystem://",
        "EXECUTION_REAP_SECONDS": "1",
    }
    env.pop("CELERY_RESULT_BACKEND", None)
    assert manage(env, "migrate", "--noinput").returncode == 0
    before = stale_run(env, data / "demo.sqlite3")
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
            f"reaper-{uuid.uuid4().hex[:6]}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        assert wait_for_status(app_db, before, "failed", 60) == "failed"
        # Not only once at start: a run that goes stale later is reaped too.
        later = stale_run(env, data / "demo.sqlite3")
        assert wait_for_status(app_db, later, "failed", 30) == "failed"
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            output = worker.communicate(timeout=30)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            output = worker.communicate(timeout=30)[0].decode(errors="replace")
    assert "beat: Starting" not in output  # no scheduler ran in this worker
    status, _, error = execution_row(app_db, later)
    assert status == "failed" and "worker lost" in error
