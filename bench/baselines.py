"""The raw-copy baselines and the copy limit of bench/etl.py: each copies the bench table from the
source database to the target without masking, in a process of its own (bench.etl.measure)."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from bench.etl import COLUMNS, SRC_DB, TABLE, TGT_DB, mysql_conn, pg_dsn, pg_uri


def baseline_pg_copy() -> int:
    import psycopg

    with psycopg.connect(pg_dsn(SRC_DB)) as src, psycopg.connect(pg_dsn(TGT_DB)) as tgt:
        tgt.execute(f"TRUNCATE {TABLE}")
        with (
            src.cursor().copy(f"COPY {TABLE} TO STDOUT (FORMAT BINARY)") as out,
            tgt.cursor().copy(f"COPY {TABLE} FROM STDIN (FORMAT BINARY)") as inp,
        ):
            for block in out:
                inp.write(block)
        tgt.commit()
        return int(tgt.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0])


def baseline_pg_adbc() -> int:
    import adbc_driver_postgresql.dbapi as adbc
    import pyarrow as pa

    def decimals(reader: Any) -> Any:
        """ADBC reads numeric as an opaque string extension; its COPY writer wants decimals."""
        fields, casts = [], {}
        for i, f in enumerate(reader.schema):
            typmod = int((f.metadata or {}).get(b"POSTGRESQL:typmod", b"-1"))
            if isinstance(f.type, pa.BaseExtensionType) and typmod > 4:
                casts[i] = pa.decimal128((typmod - 4) >> 16, (typmod - 4) & 0xFFFF)
                f = pa.field(f.name, casts[i])
            fields.append(f)
        schema = pa.schema(fields)

        def gen() -> Any:
            for b in reader:
                cols = [
                    b.column(i).storage.cast(casts[i]) if i in casts else b.column(i)
                    for i in range(b.num_columns)
                ]
                yield pa.RecordBatch.from_arrays(cols, schema=schema)

        return pa.RecordBatchReader.from_batches(schema, gen())

    with adbc.connect(pg_uri(SRC_DB)) as src, adbc.connect(pg_uri(TGT_DB)) as tgt:
        with tgt.cursor() as cur:
            cur.execute(f"TRUNCATE {TABLE}")
        with src.cursor() as rcur, tgt.cursor() as wcur:
            rcur.execute(f"SELECT * FROM {TABLE}")
            n = wcur.adbc_ingest(TABLE, decimals(rcur.fetch_record_batch()), mode="append")
        tgt.commit()
        return int(n)


def baseline_sqlite(workdir: str) -> int:
    src = sqlite3.connect(os.path.join(workdir, f"{SRC_DB}.sqlite3"))
    tgt = sqlite3.connect(os.path.join(workdir, f"{TGT_DB}.sqlite3"))
    tgt.execute(f"DELETE FROM {TABLE}")
    cur = src.execute(f"SELECT * FROM {TABLE} ORDER BY id")
    sql = f"INSERT INTO {TABLE} VALUES ({', '.join(['?'] * len(COLUMNS))})"
    n = 0
    while rows := cur.fetchmany(10_000):
        tgt.executemany(sql, rows)
        n += len(rows)
    tgt.commit()
    return n


def baseline_sqlite_adbc(workdir: str) -> int:
    import adbc_driver_sqlite.dbapi as adbc

    with (
        adbc.connect(os.path.join(workdir, f"{SRC_DB}.sqlite3")) as src,
        adbc.connect(os.path.join(workdir, f"{TGT_DB}.sqlite3")) as tgt,
    ):
        with tgt.cursor() as cur:
            cur.execute(f"DELETE FROM {TABLE}")
        with src.cursor() as rcur, tgt.cursor() as wcur:
            rcur.execute(f"SELECT * FROM {TABLE} ORDER BY id")
            n = wcur.adbc_ingest(TABLE, rcur.fetch_record_batch(), mode="append")
        tgt.commit()
        return int(n)


def baseline_mariadb_pg() -> int:
    import MySQLdb.cursors
    import psycopg

    src = mysql_conn(SRC_DB)
    cur = src.cursor(MySQLdb.cursors.SSCursor)
    cur.execute(f"SELECT * FROM {TABLE}")
    n = 0
    with psycopg.connect(pg_dsn(TGT_DB)) as tgt:
        tgt.execute(f"TRUNCATE {TABLE}")
        with tgt.cursor().copy(f"COPY {TABLE} FROM STDIN") as inp:
            while rows := cur.fetchmany(10_000):
                for row in rows:
                    inp.write_row(row)
                n += len(rows)
        tgt.commit()
    src.close()
    return n


def baseline_pg_mariadb() -> int:
    import psycopg

    tgt = mysql_conn(TGT_DB)
    tgt.autocommit(False)
    cur = tgt.cursor()
    cur.execute(f"DELETE FROM {TABLE}")
    sql = f"INSERT INTO {TABLE} VALUES ({', '.join(['%s'] * len(COLUMNS))})"
    n = 0
    with psycopg.connect(pg_dsn(SRC_DB)) as src, src.cursor(name="bench") as read:
        read.execute(f"SELECT * FROM {TABLE}")
        while rows := read.fetchmany(10_000):
            for start in range(0, len(rows), 1000):
                cur.executemany(sql, rows[start : start + 1000])
            n += len(rows)
    tgt.commit()
    tgt.close()
    return n


def baseline_pg_limit() -> int:
    from bench.limits import pg_limit

    return pg_limit(pg_dsn(SRC_DB), pg_dsn(TGT_DB), TABLE)
