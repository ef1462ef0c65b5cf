"""A run split into units on real Celery workers: PostgreSQL → PostgreSQL, two worker
processes on a Redis broker, a four-table schema with 1,000,000 rows in its largest table.
The published target equals a run of the same workflow in one transaction, checksum for
checksum, and both workers ran units.

The workers share the app database with the test through a file-based app database in a
temporary MASKFLOW_DATA_DIR; a queue of its own keeps this broker traffic apart."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from masking.dialects import get_dialect
from masking.staging import complete_units
from tests import services
from tests.live import staged_schema as S

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[2]
SIZES = {"customers": 20_000, "orders": 60_000, "items": 1_000_000, "payments": 40_000}
UNIT_ROWS = 100_000

SEED = """
from apps.accounts.models import User
from apps.connections.models import Connection
from apps.workflows.models import Workflow, TableMapping
from apps.executions.services import execution_start
u = User.objects.create_user(username="ci-owner", password="x-unused-password-123", role="user")
def conn(name, db):
    c = Connection(name=name, dialect="postgresql", host={host!r}, port={port}, database=db,
                   username={user!r}, created_by=u)
    c.set_password({password!r})
    c.save()
    return c
wf = Workflow(name="units", source_connection=conn("src", {src!r}),
              target_connection=conn("tgt", {tgt!r}), created_by=u, batch_size=10000)
wf.new_secret()
wf.save()
rules = {{
    "customers": [{{"source_column": "email", "technique": "email", "target_column": "email"}},
                  {{"source_column": "name", "technique": "full_name", "target_column": "name"}}],
    "payments": [{{"source_column": "card", "technique": "credit_card", "target_column": "card"}}],
}}
for pos, t in enumerate(["customers", "orders", "items", "payments"]):
    TableMapping.objects.create(workflow=wf, position=pos, source_schema="public", source_table=t,
                                target_schema="public", target_table=t,
                                column_mappings=rules.get(t, []), copy_unmapped=True)
print("EXECUTION", execution_start(workflow=wf, by=u, trigger="api").pk)
"""


def manage(env: dict, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def query(app_db: Path, sql: str, *params) -> list[tuple]:
    db = sqlite3.connect(app_db, timeout=30)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def start_worker(env: dict, name: str) -> subprocess.Popen:
    return subprocess.Popen(
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
            "WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"{name}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for w in workers:
        os.killpg(w.pid, signal.SIGTERM)
    for w in workers:
        try:
            w.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(w.pid, signal.SIGKILL)


def wait_until_ended(app_db: Path, pk: int, deadline: float) -> str:
    status = "queued"
    while time.monotonic() < deadline and status in ("queued", "running"):
        time.sleep(0.5)
        status = query(app_db, "SELECT status FROM executions WHERE id = ?", pk)[0][0]
    return status


def app_env(tmp_path: Path, **extra: str) -> tuple[dict, Path]:
    """The environment of worker and command processes sharing a file app database."""
    data = tmp_path / "data"
    data.mkdir()
    app_db = data / "app.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "MASKFLOW_DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{app_db}",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "CELERY_RESULT_BACKEND": "redis://127.0.0.1:6379/0",
        "CELERY_QUEUE": f"maskflow_t_{uuid.uuid4().hex[:10]}",
        **extra,
    }
    assert manage(env, "migrate", "--noinput").returncode == 0
    return env, app_db


def units_run(tmp_path: Path, pg_db_factory, sizes: dict, **extra: str):  # type: ignore[no-untyped-def]
    """The four-table schema seeded in a new source, an empty target, and a queued run of the
    workflow masking it: (env, app database, source, target, execution id)."""
    src_params, tgt_params = pg_db_factory(), pg_db_factory()
    with get_dialect(src_params) as src, get_dialect(tgt_params) as tgt:
        S.create(src, seed=True, sizes=sizes)
        S.create(tgt, seed=False)
    env, app_db = app_env(tmp_path, **extra)
    seed = SEED.format(
        host=src_params.host, port=src_params.port, user=src_params.username,
        password=src_params.password, src=src_params.database, tgt=tgt_params.database,
    )  # fmt: skip
    seeded = manage(env, "shell", "-c", seed)
    assert seeded.returncode == 0, seeded.stderr
    pk = int(seeded.stdout.split("EXECUTION")[1].split()[0])
    return env, app_db, src_params, tgt_params, pk


def test_two_workers_publish_what_one_transaction_writes(tmp_path, pg_db_factory):
    services.require_service("Redis", "127.0.0.1", 6379)
    env, app_db, src_params, tgt_params, pk = units_run(
        tmp_path, pg_db_factory, SIZES, EXECUTION_UNIT_ROWS=str(UNIT_ROWS)
    )

    workers = [start_worker(env, f"w{n}-{uuid.uuid4().hex[:6]}") for n in (1, 2)]
    try:
        deadline = time.monotonic() + 900
        wait_until_ended(app_db, pk, deadline)
    finally:
        stop_workers(workers)
    row = query(
        app_db,
        "SELECT status, error_message, lock_seconds, rows_processed FROM executions WHERE id = ?",
        pk,
    )[0]
    assert row[0] == "success", row
    units = query(
        app_db, 'SELECT "table", status, worker FROM execution_units WHERE execution_id = ?', pk
    )
    assert len([u for u in units if u[0].endswith("items")]) >= 8
    assert {u[1] for u in units} == {"done"}
    assert len({u[2] for u in units}) == 2  # both workers ran units
    assert row[3] == sum(SIZES.values())
    with get_dialect(tgt_params) as tgt:
        staged = S.checksums(tgt)
        assert S.staging_left(tgt) == []
    assert staged["items"][0] == SIZES["items"]

    # The same workflow and key in one transaction, one table after another.
    env_one = {**env, "EXECUTION_UNIT_ROWS": "0"}
    whole = manage(env_one, "run_workflow", "units", "--wait", timeout=900)
    assert whole.returncode == 0, whole.stdout[-2000:] + whole.stderr[-2000:]
    with get_dialect(tgt_params) as tgt:
        assert S.checksums(tgt) == staged
    duration = query(
        app_db,
        "SELECT (julianday(finished_at) - julianday(started_at)) * 86400 FROM executions"
        " WHERE id = ?",
        pk,
    )[0][0]
    print(f"lock {row[2]:.2f}s of {duration:.2f}s ({row[2] / duration:.0%})")


def test_killed_worker_then_resume_runs_only_incomplete_units(tmp_path, pg_db_factory):
    services.require_service("Redis", "127.0.0.1", 6379)
    sizes = {"customers": 5_000, "orders": 20_000, "items": 300_000, "payments": 10_000}
    env, app_db, src_params, tgt_params, pk = units_run(
        tmp_path, pg_db_factory, sizes, EXECUTION_UNIT_ROWS="20000"
    )
    with get_dialect(tgt_params) as tgt:
        empty = S.checksums(tgt)
    count = "SELECT count(*) FROM execution_units WHERE execution_id = ? AND status = 'done'"

    worker = start_worker(env, f"k-{uuid.uuid4().hex[:6]}")
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and query(app_db, count, pk)[0][0] < 4:
            time.sleep(0.3)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=60)
    assert worker.returncode == -signal.SIGKILL
    total = query(app_db, "SELECT count(*) FROM execution_units WHERE execution_id = ?", pk)[0][0]
    with get_dialect(tgt_params) as tgt:
        assert S.checksums(tgt) == empty  # nothing published
        # The units whose staged rows committed: the worker may have died between a unit's
        # commit in the target and its 'done' in the app database, so the target's ledger,
        # not the app's count, says what a resume keeps.
        done_before = len(complete_units(tgt, "public", f"e{pk}"))
    assert 4 <= done_before < total

    time.sleep(2)
    reaped = manage(
        env,
        "shell",
        "-c",
        "from apps.executions.services import execution_reap; "
        "print('REAPED', execution_reap(stale_after_seconds=1))",
    )
    assert f"REAPED [{pk}]" in reaped.stdout, reaped.stderr
    status, error = query(app_db, "SELECT status, error_message FROM executions WHERE id = ?", pk)[
        0
    ]
    assert status == "failed" and "worker lost" in error

    resumed = manage(env, "run_workflow", "--resume", str(pk), "--wait")
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    # only the units not complete ran again (the one the worker died in among them)
    assert f"{total - done_before} unit(s) to run" in resumed.stdout, resumed.stdout
    report = query(app_db, "SELECT report FROM executions WHERE id = ?", pk)[0][0]
    assert "read a later snapshot" in report  # the first try's snapshot died with its worker
    with get_dialect(tgt_params) as tgt:
        after_resume = S.checksums(tgt)
    assert after_resume["items"][0] == sizes["items"]

    whole = manage({**env, "EXECUTION_UNIT_ROWS": "0"}, "run_workflow", "units", "--wait")
    assert whole.returncode == 0, whole.stdout[-2000:] + whole.stderr[-2000:]
    with get_dialect(tgt_params) as tgt:
        assert S.checksums(tgt) == after_resume  # equal to an uninterrupted run


def test_units_on_two_workers_read_one_snapshot_of_the_source(tmp_path, pg_db_factory):
    """Rows changed and added in the source while the units run reach no unit: every unit
    reads the snapshot exported when the run was planned."""
    import psycopg

    services.require_service("Redis", "127.0.0.1", 6379)
    sizes = {"customers": 5_000, "orders": 20_000, "items": 300_000, "payments": 10_000}
    env, app_db, src_params, tgt_params, pk = units_run(
        tmp_path, pg_db_factory, sizes, EXECUTION_UNIT_ROWS="20000"
    )
    done = "SELECT count(*) FROM execution_units WHERE execution_id = ? AND status = 'done'"
    workers = [start_worker(env, f"s{n}-{uuid.uuid4().hex[:6]}") for n in (1, 2)]
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and query(app_db, done, pk)[0][0] < 1:
            time.sleep(0.1)
        total = query(app_db, "SELECT count(*) FROM execution_units WHERE execution_id = ?", pk)
        assert query(app_db, done, pk)[0][0] < total[0][0]  # most units are still to read
        with psycopg.connect(services.postgres_dsn(src_params.database), autocommit=True) as c:
            c.execute("UPDATE items SET sku = 'CHANGED'")
            c.execute(
                "INSERT INTO items OVERRIDING SYSTEM VALUE"
                " SELECT 10000000 + g, 1, 'NEW' FROM generate_series(1, 500) g"
            )
        wait_until_ended(app_db, pk, deadline)
    finally:
        stop_workers(workers)
    row = query(app_db, "SELECT status, error_message, report FROM executions WHERE id = ?", pk)
    assert row[0][0] == "success", row
    assert "read_consistency" not in row[0][2]  # one shared snapshot: nothing to warn about
    with psycopg.connect(services.postgres_dsn(tgt_params.database)) as c:
        skus = dict(
            c.execute("SELECT sku = 'CHANGED' OR sku = 'NEW', count(*) FROM items GROUP BY 1")
        )
    assert skus == {False: sizes["items"]}
