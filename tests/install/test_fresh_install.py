"""A production install: `pip install .` without the test extras, into a new virtualenv, with the
versions of requirements/base.txt. Its Redis and AMQP transports import, and with
CELERY_BROKER_URL=redis://… a workflow runs through a real worker started from that virtualenv.

Slow (a virtualenv and a build of the package, about a minute with a warm pip cache), so it is
marked `install`; it runs in the full suite and in CI."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.services import require_service

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "config", "apps", "masking")
JUNK = shutil.ignore_patterns("__pycache__", "*.so", "*.pyc", "build", "*.egg-info")

SEED = """
from apps.accounts.models import User
from apps.connections.models import Connection
from apps.core.demo import build_source, build_target
from apps.workflows.models import TableMapping, Workflow
from pathlib import Path
data = Path({data!r})
build_source(data / "src.sqlite3", rows=200)
build_target(data / "tgt.sqlite3")
u = User.objects.create_user(username="ops", password="unused-password-123", role="user")
src = Connection.objects.create(name="src", dialect="sqlite",
                                database=str(data / "src.sqlite3"), created_by=u)
tgt = Connection.objects.create(name="tgt", dialect="sqlite",
                                database=str(data / "tgt.sqlite3"), created_by=u)
wf = Workflow(name="fresh", source_connection=src, target_connection=tgt, created_by=u)
wf.new_secret()
wf.save()
TableMapping.objects.create(
    workflow=wf, source_schema="main", source_table="customers", target_schema="main",
    target_table="customers", create_target=True, copy_unmapped=True,
    column_mappings=[{{"source_column": "email", "technique": "email"}}])
"""


def _run(args, **kw) -> subprocess.CompletedProcess:
    out = subprocess.run(args, capture_output=True, text=True, **kw)
    assert out.returncode == 0, (args, out.stdout[-3000:], out.stderr[-3000:])
    return out


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    """The python of a new virtualenv holding `pip install .` (no extras), nothing else."""
    base = tmp_path_factory.mktemp("fresh-install")
    src = base / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=JUNK)
        else:
            shutil.copy2(path, src / name)
    _run([sys.executable, "-m", "venv", str(base / "venv")])
    python = base / "venv" / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # The lock file is a constraint: what pyproject.toml declares is what gets installed, at
    # the locked versions; a dependency missing from the declaration stays missing.
    _run([*pip, "-c", str(ROOT / "requirements" / "base.txt"), str(src)], timeout=900)
    return python


def test_no_test_extras_and_every_broker_transport_imports(fresh):
    code = (
        "import importlib.util as u, kombu\n"
        "assert u.find_spec('pytest') is None and u.find_spec('hypothesis') is None\n"
        "import kombu.transport.redis, kombu.transport.pyamqp\n"
        "for url in ('redis://127.0.0.1:6379/0', 'amqp://guest@127.0.0.1//'):\n"
        "    kombu.Connection(url).transport  # loads the transport and its client library\n"
        "print('ok')\n"
    )
    out = _run([str(fresh), "-c", code], cwd=fresh.parent)
    assert out.stdout.strip() == "ok"


@pytest.mark.live
def test_workflow_runs_through_a_redis_worker_from_the_fresh_install(fresh, tmp_path):
    require_service("Redis", "127.0.0.1", 6379)
    data = tmp_path / "data"
    data.mkdir()
    app_db = data / "app.sqlite3"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "MASKFLOW_DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{app_db}",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        # a queue of its own: other workers on this Redis must not take the task
        "CELERY_QUEUE": f"fresh-{uuid.uuid4().hex}",
        "SQLITE_ALLOWED_DIRS": str(data),
    }
    django = [str(fresh), "-m", "django"]
    _run([*django, "migrate", "--noinput"], env=env, cwd=tmp_path, timeout=300)
    _run([*django, "shell", "-c", SEED.format(data=str(data))], env=env, cwd=tmp_path)
    queued = _run([*django, "run_workflow", "fresh"], env=env, cwd=tmp_path)
    pk = int(queued.stdout.split("execution")[1].split()[0])
    worker = subprocess.Popen(
        [str(fresh), "-m", "celery", "-A", "config", "worker", "--pool", "solo"]
        + ["--without-gossip", "--without-mingle", "-n", f"fresh-{uuid.uuid4().hex[:6]}@%h"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        status = None
        for _ in range(240):  # polled until the run ends, at most about two minutes
            db = sqlite3.connect(app_db, timeout=30)
            try:
                status, rows = db.execute(
                    "SELECT status, rows_processed FROM executions WHERE id = ?", (pk,)
                ).fetchone()
            finally:
                db.close()
            if status in ("success", "failed", "cancelled") or worker.poll() is not None:
                break
            time.sleep(0.5)
    finally:
        worker.terminate()
        log = worker.communicate(timeout=60)[0]
    assert status == "success" and rows == 200, (status, log[-4000:])
    masked = sqlite3.connect(data / "tgt.sqlite3").execute("SELECT email FROM customers")
    source = sqlite3.connect(data / "src.sqlite3").execute("SELECT email FROM customers")
    assert len(set(r[0] for r in masked) & set(r[0] for r in source)) == 0
