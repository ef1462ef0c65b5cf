"""A real worker process consumes tasks sent from Django: with the serverless file-system broker
(the demo's default) and with Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from celery import Celery

from tests.services import require_service

ROOT = Path(__file__).resolve().parents[2]


def start_worker(env_overrides: dict) -> subprocess.Popen:
    env = {**os.environ, **env_overrides, "DJANGO_SETTINGS_MODULE": "config.settings"}
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
            "INFO",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"test-{uuid.uuid4().hex[:6]}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_worker(proc: subprocess.Popen) -> str:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    return out.decode(errors="replace")


def client_app(**conf) -> Celery:
    app = Celery("maskflow-test-client")
    app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"], **conf
    )
    return app


def ping_through(app: Celery, worker: subprocess.Popen) -> dict:
    token = uuid.uuid4().hex
    try:
        result = app.send_task("maskflow.ping", args=[token]).get(timeout=60)
    finally:
        log = stop_worker(worker)
    assert result["pong"] == token, log
    assert result["worker_pid"] == worker.pid and worker.pid != os.getpid()
    return result


def test_worker_runs_task_with_filesystem_broker(tmp_path):
    worker = start_worker(
        {"MASKFLOW_DATA_DIR": str(tmp_path), "CELERY_BROKER_URL": "filesystem://"}
    )
    queue = tmp_path / "broker" / "queue"
    queue.mkdir(parents=True, exist_ok=True)
    (tmp_path / "results").mkdir(exist_ok=True)
    app = client_app(
        broker_url="filesystem://",
        broker_transport_options={
            "data_folder_in": str(queue),
            "data_folder_out": str(queue),
            "processed_folder": str(tmp_path / "broker" / "processed"),
            # kombu's default control folder is ./control: without this the test writes a
            # celery.exchange file into the working directory.
            "control_folder": str(tmp_path / "broker" / "control"),
        },
        result_backend=f"file://{tmp_path / 'results'}",
    )
    ping_through(app, worker)


@pytest.mark.live
def test_worker_runs_task_with_redis():
    require_service("Redis", "127.0.0.1", 6379)
    url = "redis://127.0.0.1:6379/15"
    worker = start_worker({"CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url})
    ping_through(client_app(broker_url=url, result_backend=url), worker)


def test_celery_settings_ack_late_and_prefetch_one():
    from config.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.worker_prefetch_multiplier == 1
    app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    assert "maskflow.ping" in app.tasks
