"""The copy limit of a pair, and the staged run, as stages of bench/etl.py.

The limit is the fastest way this machine moves the same rows with the pipeline's shape of
work: two `psql` processes joined by an OS pipe, binary COPY out of the source while binary
COPY into the target, a table without indexes whose primary key, unique and other indexes
are built after the load in the same transaction, as the pipeline builds deferred indexes
(foreign keys after every table, as a publish adds them). No Python touches a row: an
in-process copy through psycopg costs a Python call per row on both sides and runs at well
under half this speed, so it would flatter the pipeline. Anything slower than this limit is
the pipeline's own cost."""

from __future__ import annotations

import subprocess
import tempfile
from typing import Any


def pg_limit(src_dsn: str, tgt_dsn: str, table: str) -> int:
    """PostgreSQL → PostgreSQL, one table: `psql` COPY out | `psql` COPY in, indexes after.
    Needs `psql` (Debian's postgresql-client) on the PATH."""
    return pg_limit_tables(src_dsn, tgt_dsn, [table], jobs=1)


def pg_limit_tables(src_dsn: str, tgt_dsn: str, tables: list[str], jobs: int) -> int:
    """The limit for several tables: empty them and drop their keys (primary, unique, foreign)
    and other indexes, then per table, `jobs` tables at a time, a `psql` pipe whose target
    session loads the rows and builds that table's primary and unique keys and indexes; the
    foreign keys are added last, as the publish adds them. Returns the rows loaded."""
    from concurrent.futures import ThreadPoolExecutor

    import psycopg

    with psycopg.connect(tgt_dsn, autocommit=True) as tgt:
        keys = {t: _constraints(tgt, t, "('p', 'u')") for t in tables}
        plain = {t: _plain_indexes(tgt, t) for t in tables}
        foreign = [(t, n, d) for t in tables for n, d in _constraints(tgt, t, "('f')")]
        with tgt.transaction():
            tgt.execute(f"TRUNCATE {', '.join(tables)}")
            for t, name, _ in foreign:
                tgt.execute(f'ALTER TABLE {t} DROP CONSTRAINT "{name}"')
            for t, found in keys.items():
                for name, _ in found:
                    tgt.execute(f'ALTER TABLE {t} DROP CONSTRAINT "{name}"')
                for name, _ in plain[t]:
                    tgt.execute(f'DROP INDEX "{name}"')
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(lambda t: _pipe(src_dsn, tgt_dsn, t, keys[t], plain[t]), tables))
        with tgt.transaction():
            for t, name, definition in foreign:
                tgt.execute(f'ALTER TABLE {t} ADD CONSTRAINT "{name}" {definition}')
        return sum(int(tgt.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables)


def _constraints(conn: Any, table: str, kinds: str) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        f" WHERE conrelid = %s::regclass AND contype IN {kinds} ORDER BY contype, conname",
        (table,),
    ).fetchall()


def _plain_indexes(conn: Any, table: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the table's indexes that back no constraint."""
    return conn.execute(
        "SELECT i.relname, pg_get_indexdef(ix.indexrelid) FROM pg_index ix"
        " JOIN pg_class i ON i.oid = ix.indexrelid WHERE ix.indrelid = %s::regclass"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid)"
        " ORDER BY 1",
        (table,),
    ).fetchall()


def _pipe(
    src_dsn: str,
    tgt_dsn: str,
    table: str,
    keys: list[tuple[str, str]],
    plain: list[tuple[str, str]] = [],  # noqa: B006 (never changed)
) -> None:
    """One table: binary COPY out piped into one target transaction (psql -1) that loads it
    from psql's own standard input (pstdin) and builds its keys and indexes."""
    script = [f"\\copy {table} FROM pstdin (FORMAT binary)"]
    script += [f'ALTER TABLE {table} ADD CONSTRAINT "{n}" {d};' for n, d in keys]
    script += [f"{d};" for _, d in plain]
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as f:
        f.write("\n".join(script) + "\n")
        f.flush()
        psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        out = subprocess.Popen(
            [*psql, "-d", src_dsn, "-c", f"COPY {table} TO STDOUT (FORMAT binary)"],
            stdout=subprocess.PIPE,
        )
        assert out.stdout is not None
        inp = subprocess.run([*psql, "-1", "-d", tgt_dsn, "-f", f.name], stdin=out.stdout)
        out.stdout.close()
        if out.wait() or inp.returncode:
            raise RuntimeError(f"psql failed on {table}: out {out.returncode}, in {inp.returncode}")


def staged(plan: Any, src: Any, tgt: Any, unit_rows: int, label: str) -> tuple[int, float]:
    """The staged run (units, staging, one publish) in this process; prints its lock time."""
    from masking.staged import run_staged

    result = run_staged(plan, src, tgt, "bench", unit_rows=unit_rows)
    assert all(c.ok for c in result.leak_report)
    share = result.lock_seconds / result.duration if result.duration else 0.0
    print(
        f"[{label}] staged run: target locked {result.lock_seconds:.2f}s of "
        f"{result.duration:.2f}s ({share:.0%})",
        flush=True,
    )
    return result.rows_processed, result.duration
