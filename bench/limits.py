"""The copy limit of a pair, and the staged run, as stages of bench/etl.py.

The limit is what the machine can move with the pipeline's own shape of work: the source read
and the target write run at the same time (two threads joined by a small queue of blocks),
into a target table without indexes, whose primary key and unique index are built after the
load, as the pipeline builds deferred indexes. Anything slower than this is the pipeline's own
cost."""

from __future__ import annotations

import queue
import threading
from typing import Any

_END = object()


def pg_limit(src_dsn: str, tgt_dsn: str, table: str) -> int:
    """PostgreSQL → PostgreSQL: binary COPY out → in, concurrently, indexes built after."""
    import psycopg

    with psycopg.connect(src_dsn) as src, psycopg.connect(tgt_dsn) as tgt:
        tgt.execute(f"TRUNCATE {table}")
        indexes = tgt.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype IN ('p', 'u') ORDER BY contype",
            (table,),
        ).fetchall()
        for name, _ in indexes:
            tgt.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        blocks: queue.Queue[Any] = queue.Queue(maxsize=8)
        failed: list[BaseException] = []

        def read() -> None:
            try:
                with src.cursor().copy(f"COPY {table} TO STDOUT (FORMAT BINARY)") as out:
                    for block in out:
                        blocks.put(bytes(block))
            except BaseException as exc:  # handed to the writer, which raises it
                failed.append(exc)
            finally:
                blocks.put(_END)

        reader = threading.Thread(target=read, name="limit-read")
        reader.start()
        try:
            with tgt.cursor().copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as inp:
                while (block := blocks.get()) is not _END:
                    inp.write(block)
        finally:
            reader.join()
        if failed:
            raise failed[0]
        for name, definition in indexes:
            tgt.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        tgt.commit()
        return int(tgt.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


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
