"""The app under load: 50 API clients for 60 s while workflows run, on SQLite or PostgreSQL.

    python bench/load.py [--clients 50] [--seconds 60] [--app-db sqlite|postgres] [--rows 20000]

Sets up a fresh install in a temporary folder (migrate, demo source of --rows customers, two
workflows copying it into two targets), starts the web server (runserver, threaded) and a
Celery worker (file-system broker, as the demo), then runs the clients: listing connections,
workflows and executions, reading executions, polling a running one's progress, and starting a
run of each workflow every few seconds. It prints requests/s, p50/p95/p99 latency, the errors
by status, whether the server or worker logged "database is locked", and whether every run
finished with the source's row counts."""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
TABLES = ("customers", "addresses", "employees", "orders", "payments")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    def __init__(self, base: str, token: str = ""):
        self.base, self.token = base, token

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            try:
                return e.code, json.loads(e.read() or b"{}")
            except ValueError:
                return e.code, {}
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            return 599, {}


def setup(env: dict, data: Path, rows: int) -> None:
    run = lambda *a: subprocess.run([PY, "manage.py", *a], cwd=ROOT, env=env, check=True,  # noqa: E731
                                    capture_output=True)  # fmt: skip
    run("migrate", "--noinput")
    run("seed_demo", "--rows", str(rows))
    shutil.copy(data / "demo" / "target.sqlite3", data / "demo" / "target2.sqlite3")


def workflows(api: Api, data: Path) -> list[int]:
    _, conns = api.call("GET", "/api/connections")
    by_name = {c["name"]: c["id"] for c in conns["data"]}
    source = next(v for k, v in by_name.items() if "source" in k.lower())
    target = next(v for k, v in by_name.items() if "target" in k.lower())
    status, second = api.call("POST", "/api/connections", {
        "name": "Load target 2", "dialect": "sqlite",
        "database": str(data / "demo" / "target2.sqlite3"), "role_hint": "target"})  # fmt: skip
    assert status == 201, second
    ids = []
    for i, tgt in enumerate((target, second["data"]["id"])):
        body = {
            "name": f"Load {i + 1}", "source_connection_id": source, "target_connection_id": tgt,
            "mappings": [{"source_schema": "main", "source_table": t, "target_schema": "main",
                          "target_table": t, "create_target": True, "copy_unmapped": True,
                          "column_mappings": []} for t in TABLES],
        }  # fmt: skip
        status, created = api.call("POST", "/api/workflows", body)
        assert status == 201, created
        ids.append(created["data"]["id"])
    return ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--app-db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--start-every", type=float, default=5.0, help="seconds between run starts")
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="maskflow-load-"))
    password = "Load-" + uuid.uuid4().hex
    env = {**os.environ, "MASKFLOW_DATA_DIR": str(data), "MASKFLOW_ADMIN_PASSWORD": password,
           "API_RATE_USER": "1000000/min", "API_RATE_IP": "1000000/min",
           "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(ROOT)}  # fmt: skip
    pg_db = ""
    if args.app_db == "postgres":
        import psycopg

        pg_db = f"maskflow_load_{uuid.uuid4().hex[:8]}"
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{pg_db}"')
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{pg_db}"
    procs: list[subprocess.Popen] = []
    try:
        setup(env, data, args.rows)
        port = free_port()
        web_log, worker_log = open(data / "web.log", "w"), open(data / "worker.log", "w")
        procs.append(subprocess.Popen([PY, "manage.py", "runserver", f"127.0.0.1:{port}",
                                       "--noreload"], cwd=ROOT, env=env, stdout=web_log,
                                      stderr=subprocess.STDOUT))  # fmt: skip
        procs.append(subprocess.Popen([PY, "-m", "celery", "-A", "config", "worker",
                                       "--pool", "solo", "--without-gossip", "--without-mingle",
                                       "--loglevel", "INFO"], cwd=ROOT, env=env,
                                      stdout=worker_log, stderr=subprocess.STDOUT))  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            if Api(base).call("GET", "/api/health/db")[0] in (200, 401, 403):
                break
            time.sleep(0.2)
        _, login = Api(base).call("POST", "/api/auth/login",
                                  {"username": "admin", "password": password})  # fmt: skip
        api = Api(base, login["data"]["token"])
        wf = workflows(api, data)
        started: list[int] = []
        lock = threading.Lock()
        results: list[tuple[str, int, float]] = []
        stop = time.monotonic() + args.seconds

        def start_runs() -> None:
            while time.monotonic() < stop:
                for w in wf:
                    status, body = api.call("POST", f"/api/workflows/{w}/execute")
                    with lock:
                        results.append(("start run", status, 0.0))
                        if status in (200, 201, 202):
                            started.append(body["data"]["id"])
                time.sleep(args.start_every)

        def client(seed: int) -> None:
            rnd = random.Random(seed)
            while time.monotonic() < stop:
                with lock:
                    ex = rnd.choice(started) if started else None
                one = f"/api/executions/{ex}" if ex else "/api/executions"
                path = rnd.choice(
                    ["/api/connections", "/api/workflows", "/api/executions", one, one]
                )
                t = time.perf_counter()
                status, _ = api.call("GET", path)
                with lock:
                    results.append((path.split("/")[2], status, time.perf_counter() - t))

        threads = [threading.Thread(target=start_runs)]
        threads += [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        t0 = time.monotonic()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.monotonic() - t0
        # Every run started must end, with the source's counts.
        deadline, final = time.monotonic() + 600, {}
        while time.monotonic() < deadline:
            final = {e: api.call("GET", f"/api/executions/{e}")[1].get("data", {}) for e in started}
            if all(d.get("status") not in ("queued", "running", "pending") for d in final.values()):
                break
            time.sleep(2)
        report(args, results, wall, final, data)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        if pg_db:
            import psycopg

            with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres",
                                 autocommit=True) as c:  # fmt: skip
                c.execute(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)')


def report(args, results, wall, final, data: Path) -> None:  # type: ignore[no-untyped-def]
    reads = sorted(r[2] for r in results if r[0] != "start run")

    def pct(p: float) -> float:
        return reads[min(len(reads) - 1, int(p * len(reads)))] * 1000 if reads else 0.0

    by_status = Counter(r[1] for r in results)
    logs = (data / "web.log").read_text(errors="replace") + (data / "worker.log").read_text(
        errors="replace"
    )
    statuses = Counter(d.get("status") for d in final.values())
    rows = Counter(d.get("rows_processed") for d in final.values() if d.get("status") == "success")
    print(f"\napp database: {args.app_db}; {args.clients} clients for {args.seconds}s")
    print(f"requests: {len(results)} in {wall:.1f}s = {len(reads) / wall:.0f} reads/s")
    print(f"latency (reads): p50 {pct(0.5):.0f} ms, p95 {pct(0.95):.0f} ms, p99 {pct(0.99):.0f} ms")
    print(f"responses by status: {dict(sorted(by_status.items()))}")
    print(f"5xx: {sum(n for s, n in by_status.items() if 500 <= s < 600)}")
    print(f"'database is locked' in logs: {logs.count('database is locked')}")
    print(f"runs: {len(final)} started, by final status {dict(statuses)}")
    import sqlite3

    with sqlite3.connect(data / "demo" / "source.sqlite3") as src:
        expected = sum(src.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES)
    print(f"rows processed per successful run: {dict(rows)} (source rows: {expected})")


if __name__ == "__main__":
    main()
