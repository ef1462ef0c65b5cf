"""Reading streams: the Python memory peak follows the batch size, not the table size."""

from __future__ import annotations

import tracemalloc

import pytest

from masking.dialects import get_dialect

pytestmark = pytest.mark.live

ROWS = 30_000


def _peak(dialect, table, batch_size: int) -> int:
    tracemalloc.start()
    try:
        seen = 0
        for batch in dialect.read_batches(table, ["id", "payload"], batch_size):
            seen += batch.num_rows
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        assert seen == ROWS


def _assert_flat(dialect, schema: str) -> None:
    for name in ("keyed", "heap"):
        table = dialect.describe_table(schema, name)
        small = _peak(dialect, table, 500)
        whole = _peak(dialect, table, ROWS)
        assert small * 10 < whole, (name, small, whole)


def test_postgresql_streams_in_flat_memory(pg_db, monkeypatch):
    from masking.dialects import postgresql_arrow, postgresql_copy

    d = get_dialect(pg_db)
    d.execute("CREATE TABLE keyed (id int PRIMARY KEY, payload text)")
    d.execute("CREATE TABLE heap (id int, payload text)")
    for name in ("keyed", "heap"):
        d.execute(
            f"INSERT INTO {name} SELECT n, repeat('x', 40) || n FROM generate_series(1, {ROWS}) n"
        )
    # The binary COPY reader's pages are allocated outside Python: they hold one page each ...
    pages: list[int] = []
    original = postgresql_copy.CopyPages.read

    def read(self, sql, cols):  # type: ignore[no-untyped-def]
        got = original(self, sql, cols)
        pages.append(got.num_rows if got is not None else -1)
        return got

    monkeypatch.setattr(postgresql_copy.CopyPages, "read", read)
    keyed = d.describe_table("public", "keyed")
    assert sum(b.num_rows for b in d.read_batches(keyed, ["id", "payload"], 500)) == ROWS
    assert len(pages) == ROWS // 500 + 1 and max(pages) == 500, pages
    d.close()
    # ... and the psycopg paths, which read a page no other way can, stream in Python memory.
    monkeypatch.setattr(postgresql_copy, "open_pages", lambda *a: None)
    monkeypatch.setattr(postgresql_arrow, "open_pages", lambda *a: None)
    d = get_dialect(pg_db)
    _assert_flat(d, "public")
    d.close()


def test_mariadb_streams_in_flat_memory(mariadb_db):
    d = get_dialect(mariadb_db)
    d.execute("CREATE TABLE keyed (id INT PRIMARY KEY, payload VARCHAR(60))")
    d.execute("CREATE TABLE heap (id INT, payload VARCHAR(60))")
    for name in ("keyed", "heap"):
        d.execute(
            f"INSERT INTO {name} SELECT seq, CONCAT(REPEAT('x', 40), seq) FROM seq_1_to_{ROWS}"
        )
    _assert_flat(d, mariadb_db.database)
    d.close()


def test_sqlite_streams_in_flat_memory(sqlite_db, monkeypatch):
    from masking.dialects import sqlite_arrow

    d = get_dialect(sqlite_db)
    conn = d.connect()
    conn.execute("CREATE TABLE keyed (id INTEGER PRIMARY KEY, payload TEXT)")
    conn.execute("CREATE TABLE heap (id INTEGER, payload TEXT)")
    for name in ("keyed", "heap"):
        conn.execute(
            f"INSERT INTO {name} WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL "
            f"SELECT n + 1 FROM s WHERE n < {ROWS}) SELECT n, printf('%.40c%d', 'x', n) "
            "FROM s"
        )
    # The ADBC driver's pages are allocated outside Python, where tracemalloc cannot see them:
    # they hold one page each (at most the batch size) ...
    pages: list[int] = []
    original = sqlite_arrow.ArrowPages.read

    def read(self, sql, params, raw):  # type: ignore[no-untyped-def]
        got = original(self, sql, params, raw)
        pages.append(len(got[0]) if got else 0)
        return got

    monkeypatch.setattr(sqlite_arrow.ArrowPages, "read", read)
    for name in ("keyed", "heap"):
        pages.clear()
        assert (
            sum(
                b.num_rows
                for b in d.read_batches(d.describe_table("main", name), ["id", "payload"], 500)
            )
            == ROWS
        )
        assert len(pages) >= ROWS // 500 and max(pages) == 500, (name, pages)
    # ... and the sqlite3 path, which reads a page no other way can, streams in Python memory.
    monkeypatch.setattr(sqlite_arrow, "open_pages", lambda *a: None)
    _assert_flat(d, "main")
    d.close()
