"""PostgreSQL pages through the fast readers, binary COPY parsed in C
(masking.dialects.postgresql_copy) and the ADBC driver (masking.dialects.postgresql_arrow):
the same values as the psycopg paths, the same snapshot, and the psycopg paths for whatever
they cannot return. Each test runs with each reader."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest

from masking.dialects import get_dialect, postgresql_arrow, postgresql_copy
from masking.dialects.base import ConnectionParams
from tests import services

pytestmark = pytest.mark.live

READERS = {"copy": postgresql_copy.CopyPages, "adbc": postgresql_arrow.ArrowPages}


@pytest.fixture(params=sorted(READERS))
def reader(request, monkeypatch) -> Any:
    """The reader class the dialect opens (the binary COPY one is tried first)."""
    if request.param == "adbc":
        monkeypatch.setattr(postgresql_copy, "open_pages", lambda options: None)
    else:
        assert postgresql_copy._native is not None, "the _pgcopy extension is not built"
    return READERS[request.param]


def _no_fast_reader(m: Any) -> None:
    m.setattr(postgresql_copy, "open_pages", lambda options: None)
    m.setattr(postgresql_arrow, "open_pages", lambda options: None)


COLUMNS = ["k", "r", "n", "nu", "d", "ts", "e", "u", "j", "c", "t", "b", "f", "s"]
PLAIN = """
INSERT INTO public.mixed
SELECT g, g / 10.0, g / 4.0, g / 8.0, DATE '2020-01-01' + g,
       TIMESTAMP '2020-01-01 00:00:00.123456' + g * INTERVAL '1 hour 1.5 second',
       (ARRAY['sad', 'ok', 'happy'])[1 + g % 3]::mood, md5(g::text)::uuid,
       jsonb_build_object('g', g), left(g::text, 2), CASE WHEN g % 5 = 0 THEN NULL ELSE
       repeat(chr(228) || ',"\\', g % 4) END, g % 2 = 0, g / 3.0, g::smallint
FROM generate_series(1, 40) g
"""


def _table(pg: Any) -> Any:
    pg.execute("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')")
    pg.execute(
        "CREATE TABLE public.mixed (k int PRIMARY KEY, r real, n numeric(12, 2), nu numeric, "
        "d date, ts timestamp, e mood, u uuid, j jsonb, c char(4), t text, b boolean, "
        "f float8, s smallint)"
    )
    pg.execute(PLAIN)
    return pg.describe_table("public", "mixed")


def _read(
    params: ConnectionParams, table: Any, size: int, reader: Any, monkeypatch, fast: bool = True
) -> Any:
    """(rows or the error's type and text, pages the fast reader returned)."""
    used = []
    real = reader.read

    def spy(self, sql, cols):  # type: ignore[no-untyped-def]
        batch = real(self, sql, cols)
        used.append(batch is not None)
        return batch

    with monkeypatch.context() as m:
        m.setattr(reader, "read", spy)
        if not fast:
            _no_fast_reader(m)
        d = get_dialect(params)
        try:
            rows: Any = [r for b in d.read_batches(table, COLUMNS, size) for r in b.to_pylist()]
        except Exception as exc:  # noqa: BLE001 - compared between the two readers
            rows = (type(exc).__name__, str(exc))
        finally:
            d.close()
    return rows, used


def test_pages_equal_the_psycopg_paths_value_for_value(pg_db, monkeypatch, reader):
    pg = get_dialect(pg_db)
    table = _table(pg)
    pg.close()
    fast, used = _read(pg_db, table, 7, reader, monkeypatch)
    slow, unused = _read(pg_db, table, 7, reader, monkeypatch, fast=False)
    assert used == [True] * 6  # 40 rows in pages of 7: every page through the driver
    assert unused == []
    assert len(fast) == 40
    assert fast == slow
    first = fast[0]
    assert first["r"] == 0.1 and first["e"] == "ok" and first["c"] == "1   "
    assert first["j"] == '{"g": 1}' and first["t"] == 'ä,"\\'


@pytest.mark.parametrize(
    ("column", "odd"),
    [
        ("nu", "1.123456789012"),  # more digits than the column's Arrow decimal holds
        ("nu", "'NaN'"),
        ("d", "'infinity'"),
        ("ts", "'-infinity'"),
        ("d", "'0044-03-15 BC'"),
        ("ts", "'10000-01-01'"),  # beyond the year 9999 Python reads
    ],
)
def test_a_page_it_cannot_return_exactly_is_read_by_psycopg(
    pg_db, monkeypatch, reader, column, odd
):
    pg = get_dialect(pg_db)
    table = _table(pg)
    pg.execute(f"UPDATE public.mixed SET {column} = {odd} WHERE k = 20")
    pg.close()
    fast, used = _read(pg_db, table, 7, reader, monkeypatch)
    slow, _ = _read(pg_db, table, 7, reader, monkeypatch, fast=False)
    assert fast == slow  # the same rows, or the same error
    assert used == [True, True, False]  # pages 1-2 by the driver; page 3 holds row 20


def test_pages_read_in_the_shared_snapshot(pg_db, monkeypatch, reader):
    pg = get_dialect(pg_db)
    table = _table(pg)
    holder = get_dialect(pg_db)
    token = holder.export_snapshot()
    pg.execute("INSERT INTO public.mixed (k) SELECT g FROM generate_series(41, 60) g")
    pg.execute("UPDATE public.mixed SET t = 'changed' WHERE k = 3")
    used = []
    real = reader.read
    monkeypatch.setattr(
        reader, "read", lambda self, sql, cols: used.append(1) or real(self, sql, cols)
    )
    reader = get_dialect(pg_db)
    try:
        for _ in range(2):  # the reader opens inside the first snapshot, then joins the next
            with reader.snapshot_reads(token):
                rows = [r for b in reader.read_batches(table, ["k", "t"], 9) for r in b.to_pylist()]
            assert [r["k"] for r in rows] == list(range(1, 41))
            assert rows[2]["t"] != "changed"
        # outside a snapshot, every page sees what is committed
        rows = [r for b in reader.read_batches(table, ["k", "t"], 9) for r in b.to_pylist()]
        assert len(rows) == 60 and rows[2]["t"] == "changed"
    finally:
        reader.close()
        holder.close()
        pg.close()
    assert len(used) == 5 + 5 + 7


def test_a_shared_snapshot_outlives_the_servers_idle_transaction_timeout(pg_db, reader):
    """The holder and the readers sit idle in their transactions between pages and units; a
    database-wide idle_in_transaction_session_timeout must not end them (and the snapshot)."""
    with psycopg.connect(services.postgres_dsn(), autocommit=True) as admin:
        timeout = "ALTER DATABASE {} SET idle_in_transaction_session_timeout = 200"
        admin.execute(psycopg.sql.SQL(timeout).format(psycopg.sql.Identifier(pg_db.database)))
    pg = get_dialect(pg_db)
    table = _table(pg)
    holder, unit = get_dialect(pg_db), get_dialect(pg_db)
    try:
        token = holder.export_snapshot()
        pg.execute("UPDATE public.mixed SET t = 'changed' WHERE k = 3")
        time.sleep(0.6)  # the holder idles past the timeout before a unit imports the snapshot
        with unit.snapshot_reads(token):
            pages = unit.read_batches(table, ["k", "t"], 9)
            rows = next(pages).to_pylist()
            time.sleep(0.6)  # the unit idles between pages, as while its target loads
            rows += [r for b in pages for r in b.to_pylist()]
        assert [r["k"] for r in rows] == list(range(1, 41))
        assert rows[2]["t"] != "changed"
        # the exemption is the transaction's only: the session keeps the database's timeout
        assert unit._rows("SHOW idle_in_transaction_session_timeout")[0][0] == "200ms"
    finally:
        unit.close()
        holder.close()
        pg.close()


def test_without_a_snapshot_to_share_the_transaction_reads_alone(pg_db, monkeypatch, reader):
    pg = get_dialect(pg_db)
    table = _table(pg)
    used = []
    monkeypatch.setattr(reader, "read", lambda *a: used.append(1))
    with pg.snapshot_reads(None):
        rows = [r for b in pg.read_batches(table, ["k"], 9) for r in b.to_pylist()]
    pg.close()
    assert len(rows) == 40
    assert used == []  # the driver's connection could not see this transaction's snapshot


def test_a_failing_page_is_reported_by_psycopg_without_the_statement(pg_db, reader):
    pg = get_dialect(pg_db)
    table = _table(pg)
    with pytest.raises(psycopg.Error) as caught:
        list(pg.read_batches(table, ["k"], 9, where="1 / (k - 20) > -1"))
    pages = pg._pages
    pg.close()
    assert isinstance(pages, reader)
    if isinstance(pages, postgresql_copy.CopyPages):
        # the error came after row 19 of page 3: the COPY ended before its trailer, which
        # leaves that session unusable, so the reader closed it
        assert pages.broken and pages._conn is None
    assert isinstance(caught.value, psycopg.errors.DivisionByZero)
    assert "COPY" not in str(caught.value) and "Query was" not in str(caught.value)


def test_connection_options_reach_the_driver_quoted():
    options = {"host": "db.example", "password": "it's a \\ pass", "sslmode": "require"}
    parsed = psycopg.conninfo.conninfo_to_dict(postgresql_arrow.conninfo(options))
    assert parsed == options


def test_a_lost_session_fails_the_read_instead_of_falling_back(pg_db, reader):
    pg = get_dialect(pg_db)
    table = _table(pg)
    pages = pg.arrow_pages()
    assert isinstance(pages, reader)
    if isinstance(pages, postgresql_copy.CopyPages):
        pid = pages._conn.info.backend_pid
    else:
        pages._cur.execute("SELECT pg_catalog.pg_backend_pid()")
        pid = pages._cur.fetch_arrow_table().column(0)[0].as_py()
    pg.execute("SELECT pg_catalog.pg_terminate_backend(%s)", (pid,))
    with pytest.raises(ConnectionError) as caught:
        list(pg.read_batches(table, ["k"], 9))
    pg.close()
    assert caught.value.__cause__ is None and "SELECT" not in str(caught.value)


def test_a_session_lost_in_the_middle_of_a_page_fails_the_read(pg_db, reader):
    """The server ends the session while a page streams (its rows come one by one, slowly):
    libpq hands over the server's last word before it sees the socket close, so the reader
    must not take the early end for a statement error and read the page again elsewhere."""
    pg = get_dialect(pg_db)
    table = _table(pg)
    pages = pg.arrow_pages()
    if isinstance(pages, postgresql_copy.CopyPages):
        pid = pages._conn.info.backend_pid
    else:
        pages._cur.execute("SELECT pg_catalog.pg_backend_pid()")
        pid = pages._cur.fetch_arrow_table().column(0)[0].as_py()

    def terminate() -> None:
        with psycopg.connect(services.postgres_dsn(), autocommit=True) as admin:
            for _ in range(2000):
                busy = admin.execute(
                    "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE pid = %s "
                    "AND state = 'active'", (pid,),
                ).fetchone()[0]  # fmt: skip
                if busy:
                    time.sleep(0.05)  # some rows are out
                    admin.execute("SELECT pg_catalog.pg_terminate_backend(%s)", (pid,))
                    return
                time.sleep(0.005)

    killer = threading.Thread(target=terminate)
    killer.start()
    try:
        with pytest.raises(ConnectionError) as caught:
            list(pg.read_batches(table, ["k"], 40, where="pg_catalog.pg_sleep(0.01) IS NOT NULL"))
    finally:
        killer.join()
        pg.close()
    assert caught.value.__cause__ is None and "SELECT" not in str(caught.value)


_OTHER_IMPL = """
import json, os
import psycopg
from masking.dialects import get_dialect, postgresql_copy
from masking.dialects.base import ConnectionParams

assert psycopg.pq.__impl__ == "python", psycopg.pq.__impl__
d = get_dialect(ConnectionParams(**json.loads(os.environ["MASKFLOW_TEST_PARAMS"])))
table = d.describe_table("public", "mixed")
rows = [r for b in d.read_batches(table, ["k", "t", "b", "d"], 7) for r in b.to_pylist()]
print(json.dumps({"copy": isinstance(d._pages, postgresql_copy.CopyPages),
                  "rows": [[r["k"], r["t"], r["b"], str(r["d"])] for r in rows]}))
"""


def test_the_reader_finds_libpq_in_psycopgs_ctypes_build_too(pg_db):
    """psycopg's pure-Python build reaches libpq through ctypes: the reader uses that very
    library, and reads the same rows as with the binary build."""
    import dataclasses
    import json
    import os
    import subprocess
    import sys

    pg = get_dialect(pg_db)
    table = _table(pg)
    want = [
        [r["k"], r["t"], r["b"], str(r["d"])]
        for b in pg.read_batches(table, ["k", "t", "b", "d"], 7)
        for r in b.to_pylist()
    ]
    pg.close()
    params = {k: v for k, v in dataclasses.asdict(pg_db).items() if k != "allowed_dirs"}
    env = {**os.environ, "PSYCOPG_IMPL": "python", "MASKFLOW_TEST_PARAMS": json.dumps(params)}
    done = subprocess.run(
        [sys.executable, "-c", _OTHER_IMPL], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout)
    assert got["copy"] is True
    assert got["rows"] == want and len(want) == 40
