"""A schedule fired by a real Celery beat process and run by a real worker, on the demo's
embedded set-up (SQLite app database, file-system broker: no server needed):

- set to fire every minute, it starts a run within 70 s, which succeeds;
- a firing while the workflow's previous run is still going is recorded as skipped, with the
  run it waited for;
- paused, it fires no more."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.live.test_broker_restart import stop
from tests.live.test_staged_workers import manage, query, start_worker

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[2]

SEED = """
from pathlib import Path
from apps.accounts.models import User
from tests.executions.scenario import make_workflow
u = User.objects.create_user(username="scheduler", password="x-unused-password-123", role="user")
wf, _, _ = make_workflow(Path({folder!r}), u, customers=200, orders=400, name="nightly")
print("WORKFLOW", wf.pk)
"""


def start_beat(env: dict, folder: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "WARNING",
         "-s", str(folder / "beat-state"), "--max-interval", "2"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def write(app_db: Path, sql: str, *params) -> None:
    db = sqlite3.connect(app_db, timeout=30)
    try:
        with db:
            db.execute(sql, params)
    finally:
        db.close()


def wait_for(app_db: Path, sql: str, until, seconds: float, *params):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        rows = query(app_db, sql, *params)
        if until(rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.5)


def test_beat_fires_a_schedule_skips_while_a_run_goes_on_and_stops_when_paused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    app_db = data / "app.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "MASKFLOW_DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{app_db}",
        "SQLITE_ALLOWED_DIRS": str(tmp_path),
        "CELERY_BROKER_URL": "filesystem://",
        "EXECUTION_STALE_SECONDS": "900",  # the stand-in "previous run" below must not be reaped
    }
    for name in ("CELERY_RESULT_BACKEND", "CELERY_QUEUE"):
        env.pop(name, None)
    assert manage(env, "migrate", "--noinput").returncode == 0
    seeded = manage(env, "shell", "-c", SEED.format(folder=str(tmp_path / "dbs")))
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    workflow = int(seeded.stdout.split("WORKFLOW")[1].split()[0])
    added = manage(env, "schedules", "add", str(workflow), "* * * * *")
    assert added.returncode == 0 and "added" in added.stdout, added.stderr[-2000:]
    schedule = query(app_db, "SELECT id FROM schedules")[0][0]
    runs = "SELECT id, status, trigger, schedule_id FROM executions ORDER BY id"
    firings = "SELECT outcome, reason, execution_id FROM schedule_firings ORDER BY id"

    worker = start_worker(env, "sched")
    beat = start_beat(env, tmp_path)
    try:
        started = time.monotonic()
        found = wait_for(app_db, runs, lambda r: bool(r), 70)
        assert found, "no run started within 70 s"
        assert time.monotonic() - started <= 70
        first = found[0][0]
        assert found[0][2:] == ("schedule", schedule)
        done = wait_for(app_db, runs, lambda r: r[0][1] in ("success", "failed"), 120)
        assert done[0][1] == "success", done

        # A run of the workflow still going (started from elsewhere): the next firing waits.
        write(
            app_db,
            "INSERT INTO executions (workflow_id, status, trigger, executed_by_id, rows_processed,"
            " rows_masked, current_table, rows_per_second, error_message, plan_snapshot,"
            " plan_hash, key_version, report, layout, lock_seconds, cancel_requested,"
            " heartbeat_at, queued_at, started_at) SELECT workflow_id, 'running', 'api',"
            " executed_by_id, 0, 0, '', 0, '', '{}', '', '', '{}', '{}', 0, 0,"
            " datetime('now'), datetime('now'), datetime('now') FROM executions WHERE id = ?",
            first,
        )
        going = query(app_db, "SELECT max(id) FROM executions")[0][0]
        skipped = wait_for(app_db, firings, lambda f: len(f) >= 2, 75)
        assert skipped[1] == (
            "skipped",
            f"the previous run of this workflow is still going (execution #{going})",
            None,
        ), skipped
        assert len(query(app_db, runs)) == 2  # no run was started for it

        paused = manage(env, "schedules", "pause", str(schedule))
        assert paused.returncode == 0, paused.stderr[-2000:]
        count = len(query(app_db, firings))
        time.sleep(75)  # past at least one more minute boundary
        assert len(query(app_db, firings)) == count
    finally:
        stop(beat)
        stop(worker)
