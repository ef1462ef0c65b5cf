"""SQLite's one-pass row conversion gives exactly what value-by-value conversion gives, for any
mix of storage classes in any declared column type; loads raise the page cache only while they
run."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import masking.dialects.sqlite as sqlite_dialect
import masking.dialects.sqlite_values as sqlite_values
from masking.dialects import get_dialect
from masking.dialects.arrowconv import arrow_schema
from masking.errors import TerminalError

pytestmark = pytest.mark.live

COLUMNS = {
    "i": "BIGINT",
    "f": "DOUBLE",
    "s": "TEXT",
    "x": "BLOB",
    "d": "DATE",
    "t": "DATETIME",
    "b": "BOOLEAN",
    "n": "DECIMAL(10, 2)",
    "v": "VARCHAR(20)",
}
STORED = (
    st.none()
    | st.integers(-(2**63), 2**63 - 1)
    | st.integers(-5, 5)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0.5, 2.0, -0.0])
    | st.text(max_size=12)
    | st.binary(max_size=6)
    | st.sampled_from(
        [
            "2020-01-02",
            "2020-01-02 03:04:05",
            "2020-01-02 03:04:05.25",
            "0000-01-01",
            "true",
            "1.25",
            "12",
        ]
    )
)


def _read(d, t, cols, size):  # type: ignore[no-untyped-def]
    try:
        return [r for b in d.read_batches(t, cols, size) for r in b.to_pylist()]
    except Exception as exc:  # noqa: BLE001 - unreadable values must fail alike on both paths
        return f"{type(exc).__name__}: {exc}"


def _reference(d, t, cols, size):  # type: ignore[no-untyped-def]
    original = sqlite_values.row_converter
    sqlite_values.row_converter = lambda *a: None
    try:
        return _read(d, t, cols, size)
    finally:
        sqlite_values.row_converter = original


@pytest.mark.parametrize("key", ["k INTEGER PRIMARY KEY", "k TEXT PRIMARY KEY", "k INT"])
def test_one_pass_matches_value_by_value(sqlite_db, key):
    lite = get_dialect(sqlite_db)
    ddl = ", ".join(f"{c} {typ}" for c, typ in COLUMNS.items())
    lite.execute(f"CREATE TABLE t ({key}, {ddl})")
    t = lite.describe_table("main", "t")
    raw = sqlite3.connect(sqlite_db.database)
    names = list(COLUMNS)

    @settings(
        max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        rows=st.lists(st.tuples(*[STORED for _ in names]), min_size=1, max_size=8),
        size=st.integers(1, 5),
        cols=st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True),
    )
    def check(rows, size, cols):
        raw.execute("DELETE FROM t")
        raw.executemany(
            f"INSERT INTO t VALUES (?, {', '.join('?' for _ in names)})",
            [(f"{i:03}" if "TEXT" in key else i, *r) for i, r in enumerate(rows)],
        )
        raw.commit()
        assert _read(lite, t, cols, size) == _reference(lite, t, cols, size)

    check()
    raw.close()
    lite.close()


def test_plain_pages_convert_in_one_pass_and_odd_pages_fall_back(sqlite_db, monkeypatch):
    lite = get_dialect(sqlite_db)
    lite.execute(
        "CREATE TABLE t (k INTEGER PRIMARY KEY, i BIGINT, b BOOLEAN, n DECIMAL(6, 2), "
        "d DATE, ts DATETIME)"
    )
    lite.execute(
        "INSERT INTO t VALUES (1, 7, 1, 1.5, '2020-01-02', '2020-01-02 03:04:05.5'), "
        "(2, NULL, 0, 3, NULL, NULL), (3, 2.0, 0.5, 2, '2020-01-03', NULL), "
        "(4, 9, 0, 0.25, '2020-01-04', '2020-01-04 00:00:00')"
    )
    t = lite.describe_table("main", "t")
    fallbacks = []
    original = sqlite_values.decode_column

    def counted(values, col):  # type: ignore[no-untyped-def]
        fallbacks.append(col.name)
        return original(values, col)

    monkeypatch.setattr(sqlite_values, "decode_column", counted)
    cols = ["k", "i", "b", "n", "d", "ts"]
    got = [r for b in lite.read_batches(t, cols, 2) for r in b.to_pylist()]
    assert got == [
        {
            "k": 1,
            "i": 7,
            "b": True,
            "n": Decimal("1.50"),
            "d": dt.date(2020, 1, 2),
            "ts": dt.datetime(2020, 1, 2, 3, 4, 5, 500000),
        },
        {"k": 2, "i": None, "b": False, "n": Decimal("3.00"), "d": None, "ts": None},
        # A float in an integer column and 0.5 in a boolean one: value by value, not truncated.
        {"k": 3, "i": 2, "b": True, "n": Decimal("2.00"), "d": dt.date(2020, 1, 3), "ts": None},
        {
            "k": 4,
            "i": 9,
            "b": False,
            "n": Decimal("0.25"),
            "d": dt.date(2020, 1, 4),
            "ts": dt.datetime(2020, 1, 4),
        },
    ]
    # The first page converted in one pass; the second did not, nor anything after it.
    assert fallbacks == cols
    lite.execute("UPDATE t SET i = 1.5 WHERE k = 3")
    with pytest.raises(TerminalError):
        list(lite.read_batches(t, ["k", "i"], 10))
    lite.close()


def test_load_raises_cache_and_restores_it(sqlite_db):
    lite = get_dialect(sqlite_db)
    lite.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, e TEXT UNIQUE)")
    t = lite.describe_table("main", "t")
    conn = lite.connect()

    def cache() -> int:
        return int(conn.execute("PRAGMA cache_size").fetchone()[0])

    before = cache()
    assert before > -sqlite_dialect.LOAD_CACHE_KIB
    batch = pa.RecordBatch.from_pylist([{"k": 1, "e": "a"}], schema=arrow_schema(t.columns))
    with lite.transaction():
        lite.begin_load(t, ["k", "e"])
        assert cache() == -sqlite_dialect.LOAD_CACHE_KIB
        lite.write_batch(t, ["k", "e"], batch)
        lite.end_load(t, ["k", "e"])
    assert cache() == before
    with pytest.raises(RuntimeError), lite.transaction():
        lite.begin_load(t, ["k", "e"])
        assert cache() == -sqlite_dialect.LOAD_CACHE_KIB
        lite.abort_load(t, ["k", "e"])
        raise RuntimeError("load failed")
    assert cache() == before
    conn.execute("PRAGMA cache_size = -200000")
    lite.begin_load(t, ["k", "e"])
    lite.end_load(t, ["k", "e"])
    assert cache() == -200000  # a larger cache of the caller's is left alone
    assert [r[0] for r in conn.execute("SELECT e FROM t")] == ["a"]
    lite.close()


def test_many_rows_per_statement_keep_values_and_order(sqlite_db):
    lite = get_dialect(sqlite_db)
    lite.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, ts DATETIME, s TEXT)")
    t = lite.describe_table("main", "t")
    n = sqlite_dialect.MAX_ROWS_PER_INSERT * 2 + 3
    rows = [
        {
            "k": i,
            "ts": dt.datetime(2020, 1, 1) + dt.timedelta(seconds=i, microseconds=i % 2),
            "s": f"v{i}",
        }
        for i in range(n)
    ]
    with lite.transaction():
        assert (
            lite.write_batch(
                t,
                ["k", "ts", "s"],
                pa.RecordBatch.from_pylist(rows, schema=arrow_schema(t.columns)),
            )
            == n
        )
    stored = lite.connect().execute("SELECT ts FROM t WHERE k IN (0, 1) ORDER BY k").fetchall()
    assert stored == [("2020-01-01 00:00:00",), ("2020-01-01 00:00:01.000001",)]
    assert _read(lite, t, ["k", "ts", "s"], 1000) == rows
    lite.close()


@pytest.mark.parametrize(
    "ddl, order",
    [
        ("CREATE TABLE t (k INTEGER PRIMARY KEY, e TEXT UNIQUE, s TEXT)", ("k", ["e"])),
        ("CREATE TABLE t (k INT PRIMARY KEY, e TEXT UNIQUE, s TEXT)", None),
        ("CREATE TABLE t (k INTEGER PRIMARY KEY, e TEXT, s TEXT)", None),
        ("CREATE TABLE t (k INTEGER PRIMARY KEY, e TEXT UNIQUE ON CONFLICT REPLACE, s TEXT)", None),
        ("CREATE TABLE t (k INTEGER PRIMARY KEY, e TEXT UNIQUE, s TEXT REFERENCES t (k))", None),
    ],
)
def test_sorted_inserts_only_where_order_is_unobservable(sqlite_db, ddl, order):
    lite = get_dialect(sqlite_db)
    lite.execute(ddl)
    t = lite.describe_table("main", "t")
    assert lite._insert_order(t, ["k", "e", "s"]) == order
    if order:
        assert lite._insert_order(t, ["e", "s"]) is None  # rowids would follow insert order
        lite.execute("CREATE TABLE log (k INTEGER)")
        lite.execute(
            "CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log VALUES (new.k); END"
        )
        assert lite._insert_order(t, ["k", "e", "s"]) is None
    lite.close()


def test_sorted_load_stores_the_same_rows(sqlite_db):
    lite = get_dialect(sqlite_db)
    lite.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, e TEXT UNIQUE, s TEXT)")
    t = lite.describe_table("main", "t")
    cols = ["k", "e", "s"]
    keyed = [{"k": i, "e": f"{(i * 7919) % 1000:04}@x", "s": f"row {i}"} for i in range(1000)]
    unkeyed = [{"k": None, "e": f"z{9 - i}", "s": f"late {i}"} for i in range(10)]
    schema = arrow_schema(t.columns)
    with lite.transaction():
        lite.begin_load(t, cols)
        lite.write_batch(t, cols, pa.RecordBatch.from_pylist(keyed, schema=schema))
        # Rows without a rowid get theirs in insertion order: this batch keeps its order.
        lite.write_batch(t, cols, pa.RecordBatch.from_pylist(unkeyed, schema=schema))
        lite.end_load(t, cols)
    got = _read(lite, t, cols, 300)
    assert got[:1000] == keyed
    assert [(r["k"], r["s"]) for r in got[1000:]] == [(1000 + i, f"late {i}") for i in range(10)]
    lite.close()


def _counting_pages(monkeypatch):  # type: ignore[no-untyped-def]
    """Record what each ADBC page read returned: 'arrow', 'none' (left to sqlite3) or 'end'."""
    from masking.dialects import sqlite_arrow

    seen: list[str] = []
    original = sqlite_arrow.ArrowPages.read

    def read(self, sql, params, raw):  # type: ignore[no-untyped-def]
        got = original(self, sql, params, raw)
        seen.append("none" if got is None else ("end" if got == [] else "arrow"))
        return got

    monkeypatch.setattr(sqlite_arrow.ArrowPages, "read", read)
    return seen


def test_plain_pages_are_read_by_the_arrow_driver(sqlite_db, monkeypatch):
    lite = get_dialect(sqlite_db)
    lite.execute(
        "CREATE TABLE t (k INTEGER PRIMARY KEY, s TEXT, f REAL, d DATE, n DECIMAL(8, 2),"
        " x BLOB, b BOOLEAN)"
    )
    lite.execute(
        "INSERT INTO t VALUES (1, 'a' || char(0) || 'é', 1.5, '2020-01-02', 2.25, x'00ff', 1),"
        " (2, NULL, 3, NULL, 7, NULL, 0), (3, 'c', -0.0, '1999-12-31', NULL, x'', NULL),"
        " (4, '', 1e300, '2020-02-29', 0.1, x'01', 1), (5, 'e', NULL, NULL, 12, NULL, 0)"
    )
    t = lite.describe_table("main", "t")
    cols = ["k", "s", "f", "d", "n", "x", "b"]
    expected = _reference(lite, t, cols, 2)
    seen = _counting_pages(monkeypatch)
    assert _read(lite, t, cols, 2) == expected
    assert seen == ["arrow", "arrow", "arrow"]  # 2 + 2 + 1 rows: the short page ends the read
    assert expected[0]["s"] == "a\x00é" and expected[3]["f"] == 1e300
    lite.close()


@pytest.mark.parametrize(
    "decl, odd",
    [
        # STRING has numeric affinity (TEXT would store these numbers as text)
        ("STRING", "7"),  # an integer among texts: the driver would make it '7'
        ("STRING", "2.5"),  # a real: '2.500000e+00'
        ("BIGINT", "2.5"),  # a real among integers
        ("DOUBLE", "'x'"),  # text among reals
        ("DECIMAL(20, 2)", str(-(2**60))),  # an integer no double holds exactly (REAL affinity
        # would have stored it as one; NUMERIC keeps it)
        ("BLOB", "'text'"),  # text among blobs
    ],
)
def test_a_page_with_another_storage_class_is_read_by_sqlite3(sqlite_db, monkeypatch, decl, odd):
    lite = get_dialect(sqlite_db)
    lite.execute(f"CREATE TABLE t (k INTEGER PRIMARY KEY, v {decl})")
    plain = {
        "STRING": "'p'",
        "BIGINT": "5",
        "DOUBLE": "0.5",
        "DECIMAL(20, 2)": "1.5",
        "BLOB": "x'01'",
    }[decl]
    lite.execute(
        f"INSERT INTO t VALUES (1, {plain}), (2, {plain}), (3, {odd}), (4, {plain}), (5, {plain})"
    )
    t = lite.describe_table("main", "t")
    expected = _reference(lite, t, ["k", "v"], 2)
    seen = _counting_pages(monkeypatch)
    assert _read(lite, t, ["k", "v"], 2) == expected
    assert seen == ["arrow", "none"]
    # page 1 through the driver; page 2 holds the odd value: sqlite3 from there on
    # (some odd values cannot be read at all: both paths then fail with the same error)
    lite.close()
