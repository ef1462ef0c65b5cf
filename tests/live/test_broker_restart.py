"""The Redis broker restarted during a run, live, with a Redis of the test's own that keeps
nothing on disk (so the restart loses every queued message, as a cache-configured Redis does).

- A run in one task goes on through the restart: the worker reconnects, and the run it holds
  finishes and records success.
- A run split into units loses the units still queued and its publish. Nothing reports on it
  any more, so the workers' reaper ends it as failed within a minute, with the target unchanged;
  a resume then runs the units not complete."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from masking.dialects import get_dialect
from tests import services
from tests.live import staged_schema as S
from tests.live.fixtures import pg_db_factory  # noqa: F401
from tests.live.test_staged_workers import manage, query, start_worker, units_run

pytestmark = pytest.mark.live


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_on(port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not services.is_reachable("127.0.0.1", port):
        assert time.monotonic() < deadline and server.poll() is None, "redis-server did not start"
        time.sleep(0.05)
    return server


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=60)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@pytest.fixture
def redis_server():
    if shutil.which("redis-server") is None and not os.environ.get("CI"):
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    port = free_port()
    servers = [redis_on(port)]

    def restart() -> float:
        stop(servers[-1], signal.SIGKILL)  # a crash: nothing saved, every message gone
        time.sleep(1.0)
        servers.append(redis_on(port))
        return time.monotonic()

    yield port, restart
    for server in servers:
        stop(server)


def setup(tmp_path, pg_db_factory, port: int, sizes: dict, **extra: str):  # noqa: F811
    return units_run(
        tmp_path,
        pg_db_factory,
        sizes,
        CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0",
        CELERY_RESULT_BACKEND=f"redis://127.0.0.1:{port}/0",
        EXECUTION_REAP_SECONDS="2",
        EXECUTION_STALE_SECONDS="15",
        **extra,
    )


def wait_for(app_db: Path, sql: str, pk: int, until, seconds: float) -> object:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        value = query(app_db, sql, pk)[0][0]
        if until(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


STATUS = "SELECT status FROM executions WHERE id = ?"


def test_a_run_in_one_task_rides_out_a_broker_restart(tmp_path, pg_db_factory, redis_server):  # noqa: F811
    port, restart = redis_server
    sizes = {"customers": 20_000, "orders": 60_000, "items": 600_000, "payments": 40_000}
    env, app_db, _, tgt_params, pk = setup(
        tmp_path, pg_db_factory, port, sizes, EXECUTION_UNIT_ROWS="0"
    )
    worker = start_worker(env, f"r-{uuid.uuid4().hex[:6]}")
    try:
        moved = "SELECT rows_processed FROM executions WHERE id = ?"
        assert wait_for(app_db, moved, pk, lambda n: n > 0, 120) > 0
        assert query(app_db, STATUS, pk)[0][0] == "running"  # the restart comes mid-run
        restart()
        status = wait_for(app_db, STATUS, pk, lambda s: s not in ("queued", "running"), 300)
    finally:
        stop(worker)
    row = query(app_db, "SELECT status, rows_processed FROM executions WHERE id = ?", pk)[0]
    assert status == "success" and row[1] == sum(sizes.values()), row
    with get_dialect(tgt_params) as tgt:
        assert S.checksums(tgt)["items"][0] == sizes["items"]


def test_a_run_in_units_fails_within_a_minute_and_resumes(tmp_path, pg_db_factory, redis_server):  # noqa: F811
    port, restart = redis_server
    sizes = {"customers": 5_000, "orders": 20_000, "items": 300_000, "payments": 10_000}
    env, app_db, _, tgt_params, pk = setup(
        tmp_path, pg_db_factory, port, sizes, EXECUTION_UNIT_ROWS="20000"
    )
    with get_dialect(tgt_params) as tgt:
        empty = S.checksums(tgt)
    done = "SELECT count(*) FROM execution_units WHERE execution_id = ? AND status = 'done'"
    worker = start_worker(env, f"u-{uuid.uuid4().hex[:6]}")
    try:
        assert wait_for(app_db, done, pk, lambda n: n >= 3, 300) >= 3
        assert query(app_db, STATUS, pk)[0][0] == "running"
        restarted = restart()
        status = wait_for(app_db, STATUS, pk, lambda s: s != "running", 90)
        ended = time.monotonic()
    finally:
        stop(worker)
    total = query(app_db, "SELECT count(*) FROM execution_units WHERE execution_id = ?", pk)[0][0]
    assert query(app_db, done, pk)[0][0] < total  # units were lost with the broker
    error = query(app_db, "SELECT error_message FROM executions WHERE id = ?", pk)[0][0]
    assert status == "failed" and "worker lost" in error and "broker" in error, (status, error)
    assert "example.org" not in error and "4111" not in error
    assert ended - restarted < 60
    with get_dialect(tgt_params) as tgt:
        assert S.checksums(tgt) == empty  # nothing published

    resumed = manage(env, "run_workflow", "--resume", str(pk), "--wait")
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    with get_dialect(tgt_params) as tgt:
        assert S.checksums(tgt)["items"][0] == sizes["items"]
