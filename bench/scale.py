"""A staged run spread over worker processes: 4 tables, 4,000,000 rows, 1, 2 and 4 workers.

    python bench/scale.py [--rows 4000000] [--workers 1,2,4] [--unit-rows 250000]

Seeds a PostgreSQL source (customers, orders, items, payments with foreign keys; items holds
half the rows), then for each worker count: plans the units and exports the source snapshot in
this process, runs the units in that many processes (each takes the next unit from a shared
queue), and publishes. Prints wall time, rows/s, CPU seconds per worker (user + system, read
from the worker processes), units per worker and how long the target was locked, beside the
copy limit measured in the same run (bench/limits.py: `psql` binary COPY pipes, one and two
tables at a time, keys built after; the faster is the limit). The database
servers run on the same machine and take their share of its cores: on 2 cores, 2 workers plus
the two servers already saturate it, so the speed-up stops there; the CPU seconds per worker
show that the work spreads evenly. MASKFLOW_BENCH_DB_PREFIX names the bench databases."""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.etl import pg_dsn  # noqa: E402

_PREFIX = os.environ.get("MASKFLOW_BENCH_DB_PREFIX", "maskflow_bench")
SRC, TGT = f"{_PREFIX}_scale_src", f"{_PREFIX}_scale_tgt"


def _params(db: str):  # type: ignore[no-untyped-def]
    from bench.etl import PG
    from masking.dialects.base import ConnectionParams

    return ConnectionParams(
        dialect="postgresql",
        host=PG["host"],
        port=PG["port"],
        database=db,
        username=PG["user"],
        password=PG["password"],
    )


def seed(rows: int) -> dict[str, int]:
    import psycopg

    from masking.dialects import get_dialect
    from tests.live import staged_schema

    sizes = {
        "customers": rows // 8,
        "orders": rows // 4,
        "items": rows // 2,
        "payments": rows - rows // 8 - rows // 4 - rows // 2,
    }
    with psycopg.connect(pg_dsn("postgres"), autocommit=True) as admin:
        for db in (SRC, TGT):
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{db}"')
    for db, fill in ((SRC, True), (TGT, False)):
        with get_dialect(_params(db)) as d:
            staged_schema.create(d, seed=fill, sizes=sizes)
            if fill:
                d.execute("ANALYZE")
    return sizes


def _worker(plan_dict: dict, layout: dict, todo, out) -> None:  # type: ignore[no-untyped-def]
    from masking.dialects import get_dialect
    from masking.plan import Plan
    from masking.staged import Layout, run_unit
    from tests.live.staged_schema import SECRET

    plan = Plan.from_dict(plan_dict, secret=SECRET)
    lay = Layout.from_dict(layout)
    ran = 0
    with get_dialect(_params(SRC)) as src, get_dialect(_params(TGT)) as tgt:
        while (index := todo.get()) is not None:
            run_unit(plan, lay, index, src, tgt)
            ran += 1
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put((os.getpid(), ran, usage.ru_utime + usage.ru_stime))


def limit(jobs: int) -> tuple[float, int]:
    from bench.limits import pg_limit_tables
    from tests.live.staged_schema import TABLES

    t0 = time.perf_counter()
    rows = pg_limit_tables(pg_dsn(SRC), pg_dsn(TGT), list(TABLES), jobs)
    return time.perf_counter() - t0, rows


def run(workers: int, unit_rows: int) -> dict:
    from masking.dialects import get_dialect
    from masking.staged import SnapshotHolder, finish, prepare
    from tests.live import staged_schema

    plan = staged_schema.plan("public", "public", batch_size=10_000)
    ctx = mp.get_context("spawn")
    with get_dialect(_params(SRC)) as src, get_dialect(_params(TGT)) as tgt:
        started = time.time()
        with SnapshotHolder(src) as holder:
            layout = prepare(plan, src, tgt, f"w{workers}", unit_rows=unit_rows, snapshot=holder)
            todo, out = ctx.Queue(), ctx.Queue()
            for unit in layout.units:  # parents first: staging has no constraints anyway
                todo.put(unit.index)
            for _ in range(workers):
                todo.put(None)
            procs = [
                ctx.Process(target=_worker, args=(plan.to_dict(), layout.to_dict(), todo, out))
                for _ in range(workers)
            ]
            for p in procs:
                p.start()
            stats = [out.get() for _ in procs]
            for p in procs:
                p.join()
            if any(p.exitcode for p in procs):
                raise SystemExit("a worker failed")
            result = finish(plan, layout, src, tgt, started=started)
    return {
        "workers": workers,
        "units": len(layout.units),
        "wall": result.duration,
        "rows": result.rows_processed,
        "lock": result.lock_seconds,
        "cpu": [round(c, 1) for _, _, c in stats],
        "ran": [r for _, r, _ in stats],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=4_000_000)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--unit-rows", type=int, default=250_000)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    sizes = seed(args.rows)
    print(f"seeded {sum(sizes.values()):,} rows {sizes} in {time.perf_counter() - t0:.1f}s")
    limits = {jobs: limit(jobs) for jobs in (1, 2)}
    for jobs, (secs, rows) in limits.items():
        print(f"copy limit, {jobs} table(s) at a time: {secs:.1f}s, {rows / secs:,.0f} rows/s")
    best = min(secs for secs, _ in limits.values())
    results = [run(int(w), args.unit_rows) for w in args.workers.split(",")]
    print(
        f"\n{'workers':>7}{'units':>7}{'wall s':>9}{'rows/s':>11}{'speed-up':>10}"
        f"{'lock s':>8}{'lock %':>8}{'of limit':>10}  CPU s per worker (units run)"
    )
    base = results[0]["wall"]
    for r in results:
        per = ", ".join(f"{c} ({n})" for c, n in zip(r["cpu"], r["ran"], strict=True))
        print(
            f"{r['workers']:>7}{r['units']:>7}{r['wall']:>9.1f}{r['rows'] / r['wall']:>11,.0f}"
            f"{base / r['wall']:>9.2f}x{r['lock']:>8.1f}{r['lock'] / r['wall']:>8.0%}"
            f"{best / r['wall']:>10.0%}  {per}"
        )
    print(f"\n{os.cpu_count()} cores on this machine, shared with both database servers.")
    if not args.keep:
        import psycopg

        with psycopg.connect(pg_dsn("postgres"), autocommit=True) as admin:
            for db in (SRC, TGT):
                admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
