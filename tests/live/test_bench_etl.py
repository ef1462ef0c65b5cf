"""bench/etl.py end to end on a small table: every stage copies every row, without error, and
the summary lines the figures are read from are printed. A benchmark that has stopped running
reports nothing; this keeps it runnable."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests import services

ROOT = Path(__file__).resolve().parents[2]
ROWS = 3000


def run_bench(pair: str, *extra: str) -> str:
    env = {
        **os.environ,
        "MASKFLOW_BENCH_DB_PREFIX": f"maskflow_tb_{uuid.uuid4().hex[:10]}",
        "MASKFLOW_BENCH_PG_HOST": services.PG_HOST,
        "MASKFLOW_BENCH_PG_PORT": str(services.PG_PORT),
        "MASKFLOW_BENCH_PG_USER": services.PG_USER,
        "MASKFLOW_BENCH_PG_PASSWORD": services.PG_PASSWORD,
        "MASKFLOW_BENCH_MARIADB_HOST": services.MARIADB_HOST,
        "MASKFLOW_BENCH_MARIADB_PORT": str(services.MARIADB_PORT),
        "MASKFLOW_BENCH_MARIADB_USER": services.MARIADB_USER,
        "MASKFLOW_BENCH_MARIADB_PASSWORD": services.MARIADB_PASSWORD,
        "MASKFLOW_BENCH_MSSQL_HOST": services.SQLSERVER_HOST,
        "MASKFLOW_BENCH_MSSQL_PORT": str(services.SQLSERVER_PORT),
        "MASKFLOW_BENCH_MSSQL_USER": services.SQLSERVER_USER,
        "MASKFLOW_BENCH_MSSQL_PASSWORD": services.SQLSERVER_PASSWORD,
    }
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "etl.py"),
            "--pairs",
            pair,
            "--rows",
            f"{ROWS // 2},{ROWS}",
            "--batch",
            "1000",
            *extra,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


CPU: dict[tuple[str, str, int], tuple[float, float]] = {}  # stage's process, servers


def check(out: str, pair: str, baselines: list[str], after: tuple[str, ...] = ()) -> None:
    assert "ERROR" not in out, out
    table = [
        line
        for line in out.splitlines()
        if line.startswith(pair + " ") and not line.startswith(f"{pair} at ")
    ]
    stages = [*baselines, "maskflow run() (batch 1000)", *after]
    # two table sizes, each with every stage, in order, each copying every row
    expected = [(s, n) for n in (ROWS // 2, ROWS) for s in stages]
    got = []
    for line in table:
        m = re.match(rf"{re.escape(pair)}\s+(\S.*?)\s{{2,}}(\d+)\s.*\s([\d.]+)\s+([\d.]+)$", line)
        assert m, line
        got.append((m.group(1), int(m.group(2))))
        CPU[(pair, m.group(1), int(m.group(2)))] = (float(m.group(3)), float(m.group(4)))
    assert got == expected, out
    for n in (ROWS // 2, ROWS):
        assert re.search(
            rf"^{re.escape(pair)} at {n} rows: pipeline at \d+% of the fastest raw "
            r"copy",
            out,
            re.M,
        ), out
    assert re.search(
        rf"^{re.escape(pair)}: pipeline peak RSS \d+ MB at {ROWS // 2} rows, \d+ MB "
        rf"at {ROWS} rows",
        out,
        re.M,
    ), out


def test_sqlite_pair_runs_every_stage() -> None:
    out = run_bench("sqlite-sqlite")
    check(out, "sqlite-sqlite", ["baseline: fetchmany→executemany", "baseline: ADBC read→ingest"])


@pytest.mark.live
def test_postgresql_pair_runs_every_stage() -> None:
    services.require_service("PostgreSQL", services.PG_HOST, services.PG_PORT)
    out = run_bench("pg-pg", "--ordered-keys")
    check(
        out,
        "pg-pg",
        [
            "baseline: psycopg binary COPY",
            "baseline: ADBC read→ingest",
            "limit: psql COPY pipe, idx after",
        ],
        ("maskflow staged run",),
    )
    for n in (ROWS // 2, ROWS):
        for stage in (r"maskflow run\(\) \(batch 1000\)", "maskflow staged run"):
            assert re.search(
                rf"^pg-pg at {n} rows: {stage} at \d+% of the copy limit", out, re.M
            ), out
    assert re.search(r"staged run: target locked [\d.]+s of [\d.]+s \(\d+%\)", out), out
    # CPU seconds: masking's are its process's; the servers' show for the stages together
    # (one small stage may take less than the clock's 10 ms tick)
    limit = CPU[("pg-pg", "limit: psql COPY pipe, idx after", ROWS)]
    run = CPU[("pg-pg", "maskflow run() (batch 1000)", ROWS)]
    assert run[0] > limit[0], out
    assert sum(v[1] for k, v in CPU.items() if k[0] == "pg-pg") > 0.05, out


def test_every_stage_names_modules_that_import() -> None:
    """Stages import their drivers before the clock starts; a misspelt module would turn a
    pair's stage into an ERROR row that no other test here runs into."""
    import importlib

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import etl
    finally:
        sys.path.remove(str(ROOT / "bench"))
    pairs = ("pg-pg", "sqlite-sqlite", "mariadb-pg", "pg-mariadb")
    named = {m for p in pairs for *_, imports in etl.stages(p, "/nowhere", 1000) for m in imports}
    assert {"psycopg", "MySQLdb", "adbc_driver_sqlite.dbapi", "masking.pipeline"} <= named
    for module in sorted(named):
        importlib.import_module(module)


@pytest.mark.live
@pytest.mark.sqlserver
def test_a_sql_server_pair_runs_every_stage_again_over_the_rows_of_the_round_before() -> None:
    """Two rounds: the second finds the target holding the previous stage's rows, which the
    raw copy must empty first, as the pipeline's truncate-mode run does."""
    services.require_service("PostgreSQL", services.PG_HOST, services.PG_PORT)
    services.require_sqlserver()
    out = run_bench("pg-mssql", "--repeat", "2")
    check(out, "pg-mssql", ["baseline: ADBC read→bulk copy"])
    assert len(re.findall(r"round 2: ", out)) == 4, out  # both stages, both table sizes
