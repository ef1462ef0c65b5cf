"""SQL Server pairs of bench/etl.py: pg-mssql, mssql-pg and mssql-mssql.

The raw-copy baselines move the same rows without masking, the fastest way found here:
- into SQL Server, mssql-python's bulk copy from Arrow, into the table without its primary key
  and unique constraint, which are added after the load (as the pipeline's deferred indexes).
  A server whose bulk-copy client sees only one column of a table (the Babelfish stand-in; see
  masking/dialects/sqlserver_bulk.py) gets the only bulk form that loads every column there:
  one single-column table per column, indexed on a row number once filled and joined on it by
  one INSERT … SELECT, as the pipeline does (dates and
  instants staged as ISO text, which it takes about seven times faster; the clock stops before
  the column tables are dropped, see write). One bulk
  copy per table: streamed as the reader reads, or, per column table, of every row held in
  memory (a bulk copy's setup costs the stand-in more the fuller the table already is), two
  column tables filled at once on two sessions (faster than one; three or four are not, on 2
  cores), each session streaming one column while the rows are read, as the pipeline does.
  Its three sessions (statements, two bulk copies) log in at once;
- out of SQL Server, mssql-python's fetchmany into Arrow arrays with explicit types;
- into PostgreSQL, ADBC ingest (binary COPY) of those Arrow batches;
- out of PostgreSQL, ADBC's Arrow reader.
The reader runs in a thread beside the writer, as the pipeline reads while it writes.
Server: MASKFLOW_BENCH_MSSQL_{HOST,PORT,USER,PASSWORD} (default: the stand-in on 127.0.0.1).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

MS = {
    "host": os.environ.get("MASKFLOW_BENCH_MSSQL_HOST", "127.0.0.1"),
    "port": int(os.environ.get("MASKFLOW_BENCH_MSSQL_PORT", "1433")),
    "user": os.environ.get("MASKFLOW_BENCH_MSSQL_USER", "babelfish_user"),
    "password": os.environ.get("MASKFLOW_BENCH_MSSQL_PASSWORD", "Bbf_test_12345678"),
}
_END = object()
CONSTRAINTS = ("CONSTRAINT bench_pk PRIMARY KEY (id)", "CONSTRAINT bench_email UNIQUE (email)")
TYPES = [
    "bigint NOT NULL", "nvarchar(120)", "nvarchar(40)", "nvarchar(40)", "nvarchar(30)",
    "nvarchar(40)", "date", "datetime2(6)", "numeric(12, 2)", "float", "bit", "nvarchar(200)",
]  # fmt: skip
# Staged as text in the column layout, as the pipeline does there (see sqlserver_bulk.AS_TEXT
# and ISO_TEXT: the stand-in takes dates and instants as text much faster), with the same
# conversion when moved.
_STAGE_TYPES = {"numeric(12, 2)": "nvarchar(max)", "bigint NOT NULL": "bigint"}
NATIVES = [t.split("(")[0].split()[0] for t in TYPES]  # "numeric(12, 2)" -> "numeric"


def conn_str(db: str) -> str:
    return (
        f"Server={MS['host']},{MS['port']};Database={db};UID={MS['user']};"
        f"PWD={MS['password']};Encrypt=no;TrustServerCertificate=yes"
    )


def params(db: str) -> Any:
    from masking.dialects.base import ConnectionParams

    options = {"encrypt": False, "trust_server_certificate": True}
    return ConnectionParams(
        "sqlserver", MS["host"], MS["port"], db, MS["user"], MS["password"], options=options
    )


def _core(db: str) -> Any:
    """mssql-python's native core, as the pipeline opens it (same keywords and packet size)."""
    from masking.dialects.sqlserver_bulk import core_connect
    from masking.dialects.sqlserver_options import bulk_connection_string

    return core_connect(bulk_connection_string(params(db)), 30)


def _exec(conn: Any, sql: str) -> None:
    cur = conn.cursor()
    try:
        cur.execute(sql)
    finally:
        cur.close()


def _odbc(db: str) -> Any:
    """Statements go through mssql-python's DB-API connection; bulk copy through its core."""
    import mssql_python

    mssql_python.pooling(enabled=False)  # a pooled session would keep a database in use
    conn = mssql_python.connect(conn_str(db))
    conn.autocommit = True
    return conn


def ddl(table: str, columns: list[str], constraints: bool = True) -> str:
    cols = [f"[{c}] {t}" for c, t in zip(columns, TYPES, strict=True)]
    return (
        f"CREATE TABLE dbo.{table} ({', '.join(cols + (list(CONSTRAINTS) if constraints else []))})"
    )


def prepare(db: str, table: str, columns: list[str], rows: int | None, batches: Callable) -> None:
    """(Re)create the database and the table; load `rows` rows when given."""
    drop(db)
    admin = _odbc("master")
    try:
        _exec(admin, f"CREATE DATABASE {db}")
    finally:
        admin.close()
    conn = _odbc(db)
    try:
        _exec(conn, ddl(table, columns))
    finally:
        conn.close()
    if rows:
        write(db, table, columns, batches(rows))


def drop(db: str) -> None:
    """Drop the database; a closed session ends a moment later, so retry briefly."""
    admin = _odbc("master")
    try:
        for attempt in range(20):
            try:
                _exec(admin, f"IF DB_ID('{db}') IS NOT NULL DROP DATABASE {db}")
                return
            except Exception:
                if attempt == 19:
                    raise
                time.sleep(0.5)
    finally:
        admin.close()


def _bulk(conn: Any, name: str, data: Any, columns: list[str]) -> None:
    cur = conn.cursor()
    try:
        cur.bulkcopy_arrow(
            name,
            data,
            column_mappings=columns,
            batch_size=0,
            keep_nulls=True,
            table_lock=True,
            timeout=0,
        )
    finally:
        cur.close()


def write(db: str, table: str, columns: list[str], batches: Iterator[Any]) -> tuple[int, float]:
    """Empty `table`, bulk copy Arrow batches into it without its constraints, added after.
    Returns the rows and the seconds it took without dropping the column tables, done last:
    the stand-in can make each DROP wait a second for an autovacuum of that table to give
    way, and that is not a cost of moving the rows (the pipeline pays its own drops)."""
    from masking.dialects.sqlserver_bulk import ISO_TEXT, describes_all_columns, staged_value

    t0 = time.perf_counter()
    conn, core, second = _sessions(db)
    try:
        # A later round finds the rows of the run before it (as the pipeline's truncate-mode
        # run does, which empties the table inside its clock too).
        _exec(conn, f"TRUNCATE TABLE dbo.{table}")
        for c in ("bench_email", "bench_pk"):
            _exec(conn, f"ALTER TABLE dbo.{table} DROP CONSTRAINT {c}")
        direct = describes_all_columns(core)
        if not direct:
            for i, typ in enumerate(TYPES):
                stage_type = (
                    "nvarchar(40)" if NATIVES[i] in ISO_TEXT else _STAGE_TYPES.get(typ, typ)
                )
                _exec(conn, f"CREATE TABLE dbo.stage_{i} (rn bigint IDENTITY, v {stage_type})")
        n = 0

        def counted(source: Iterator[Any]) -> Iterator[Any]:
            nonlocal n
            for b in source:
                n += b.num_rows
                yield b

        if direct:  # one bulk copy, streamed as the reader reads
            _bulk(core, f"dbo.{table}", counted(batches), columns)
        else:  # one bulk copy per column table, two at once, the first two while reading
            _copy_columns(core, second, counted(batches))
        if not direct:
            joins = " ".join(f"JOIN dbo.stage_{i} s{i} ON s{i}.rn = s0.rn" for i in range(1, 12))
            picks = ", ".join(staged_value(t, f"s{i}.v") for i, t in enumerate(NATIVES))
            names = ", ".join(f"[{c}]" for c in columns)
            _exec(
                conn,
                f"INSERT INTO dbo.{table} ({names}) SELECT {picks} FROM dbo.stage_0 s0 {joins}",
            )
        for c in CONSTRAINTS:
            _exec(conn, f"ALTER TABLE dbo.{table} ADD {c}")
        seconds = time.perf_counter() - t0
        if not direct:
            for i in range(len(columns)):
                _exec(conn, f"DROP TABLE dbo.stage_{i}")
        return n, seconds
    finally:
        for c in (second, core, conn):
            c.close()


def _sessions(db: str) -> tuple[Any, Any, Any]:
    """The statement session and two bulk-copy sessions, logged in at once (as the pipeline
    logs its bulk-copy sessions in on a thread while it reads the catalogs)."""
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(_odbc, db), pool.submit(_core, db), pool.submit(_core, db)]
    failed = [f.exception() for f in futures if f.exception() is not None]
    if failed:
        for f in futures:
            if f.exception() is None:
                f.result().close()
        raise failed[0]
    conn, core, second = (f.result() for f in futures)
    return conn, core, second


def _copy_columns(core: Any, second: Any, batches: Iterator[Any]) -> None:
    """Each column into its column table, indexed on rn once filled, on two sessions (`core`
    and `second`): while the batches are read (and held), each session streams one column;
    then they take the other columns in turn, as the pipeline does."""

    from masking.dialects.sqlserver_bulk import core_execute, staged_column
    from masking.dialects.sqlserver_load import take_in_turn

    def staged(i: int, batch: Any) -> Any:
        return staged_column(batch.column(i), NATIVES[i]).to_batches()[0]

    def copy(session: Any, i: int, stream: Iterator[Any]) -> None:
        _bulk(session, f"dbo.stage_{i}", stream, ["v"])
        core_execute(session, f"CREATE UNIQUE CLUSTERED INDEX stage_{i}_rn ON dbo.stage_{i} (rn)")

    sessions = [core, second]
    failed: list[BaseException] = []

    def live_copy(session: Any, i: int, column: Iterator[Any]) -> None:
        try:
            copy(session, i, column)
        except BaseException as exc:  # raised below, once every copy is done
            failed.append(exc)
            for _ in column:  # the reader must not wait on this copy
                pass

    def feed(q: queue.Queue[Any]) -> Iterator[Any]:
        while (c := q.get()) is not _END:
            yield c

    held: list[Any] = []
    live = [queue.Queue[Any](maxsize=8) for _ in sessions]
    threads = [
        threading.Thread(target=live_copy, args=(s, i, feed(q)), name="bench-copy")
        for i, (s, q) in enumerate(zip(sessions, live, strict=True))
    ]
    for t in threads:
        t.start()
    try:
        for b in batches:
            held.append(b)
            for i, q in enumerate(live):
                q.put(staged(i, b))
    finally:
        for q in live:
            q.put(_END)
        for t in threads:
            t.join()
    if failed:
        raise failed[0]
    take_in_turn(
        sessions,
        range(len(sessions), len(TYPES)),
        lambda s, i: copy(s, i, (staged(i, b) for b in held)),
    )


def read(db: str, table: str, columns: list[str], size: int = 50_000) -> Iterator[Any]:
    """SQL Server rows into Arrow batches with explicit types (no inference)."""
    import mssql_python
    import pyarrow as pa

    schema = pa.schema(
        [("id", pa.int64()), ("email", pa.string()), ("first_name", pa.string()),
         ("last_name", pa.string()), ("phone", pa.string()), ("city", pa.string()),
         ("birth_date", pa.date32()), ("created_at", pa.timestamp("us")),
         ("balance", pa.decimal128(12, 2)), ("score", pa.float64()), ("active", pa.bool_()),
         ("notes", pa.string())]
    )  # fmt: skip
    mssql_python.pooling(enabled=False)
    conn = mssql_python.connect(conn_str(db))
    try:
        cur = conn.cursor()
        cur.execute(f"SELECT {', '.join(f'[{c}]' for c in columns)} FROM dbo.{table}")
        while rows := cur.fetchmany(size):
            cols = list(zip(*rows, strict=True))
            yield pa.RecordBatch.from_arrays(
                [pa.array(c, f.type) for c, f in zip(cols, schema, strict=True)], schema=schema
            )
    finally:
        conn.close()


def _threaded(produce: Iterator[Any]) -> Iterator[Any]:
    """Run `produce` in a reader thread; yield its batches here (a small queue between)."""
    blocks: queue.Queue[Any] = queue.Queue(maxsize=8)
    failed: list[BaseException] = []

    def run() -> None:
        try:
            for b in produce:
                blocks.put(b)
        except BaseException as exc:  # handed to the consumer, which raises it
            failed.append(exc)
        finally:
            blocks.put(_END)

    reader = threading.Thread(target=run, name="bench-read")
    reader.start()
    try:
        while (b := blocks.get()) is not _END:
            yield b
    finally:
        reader.join()
    if failed:
        raise failed[0]


def baseline_pg_mssql(pg_uri: str, db: str, table: str, columns: list[str]) -> tuple[int, float]:
    import adbc_driver_postgresql.dbapi as adbc

    def produce() -> Iterator[Any]:
        with adbc.connect(pg_uri) as ac, ac.cursor() as cur:
            cur.execute(f"SELECT * FROM {table}")
            yield from cur.fetch_record_batch()

    return write(db, table, columns, _threaded(produce()))


def baseline_mssql_pg(src_db: str, pg_uri: str, table: str, columns: list[str]) -> int:
    import adbc_driver_postgresql.dbapi as adbc
    import psycopg

    dsn = pg_uri
    with psycopg.connect(dsn, autocommit=True) as pg:
        pg.execute(f"TRUNCATE {table}")
        pg.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_email_key")
        pg.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_pkey")
    n = 0
    with adbc.connect(pg_uri) as ac, ac.cursor() as cur:
        for b in _threaded(read(src_db, table, columns)):
            cur.adbc_ingest(table, b, mode="append")
            n += b.num_rows
        ac.commit()
    with psycopg.connect(dsn, autocommit=True) as pg:
        pg.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (id)")
        pg.execute(f"ALTER TABLE {table} ADD UNIQUE (email)")
    return n


def baseline_mssql_mssql(
    src_db: str, tgt_db: str, table: str, columns: list[str]
) -> tuple[int, float]:
    return write(tgt_db, table, columns, _threaded(read(src_db, table, columns)))
