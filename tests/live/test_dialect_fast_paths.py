"""Column-wise read/write paths of the dialects: exact values, NULL versus empty, fallbacks."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

import pyarrow as pa
import pytest

from masking.dialects import get_dialect
from masking.dialects.arrowconv import arrow_schema

pytestmark = pytest.mark.live


def _read(d, t, cols, size):  # type: ignore[no-untyped-def]
    return [r for b in d.read_batches(t, cols, size) for r in b.to_pylist()]


def test_pg_bytea_null_empty_and_bytes_round_trip(pg_db):
    pg = get_dialect(pg_db)
    pg.execute("CREATE TABLE public.blobs (k int PRIMARY KEY, b bytea, s text)")
    t = pg.describe_table("public", "blobs")
    values = [None, b"", b"\x00", b"\\.", b'"', b",\n\r\t", bytes(range(256))]
    rows = [{"k": i, "b": v, "s": None if v is None else ""} for i, v in enumerate(values)]
    with pg.transaction():
        pg.write_batch(
            t, ["k", "b", "s"], pa.RecordBatch.from_pylist(rows, schema=arrow_schema(t.columns))
        )
    assert _read(pg, t, ["k", "b", "s"], 3) == rows
    assert pg._rows("SELECT count(*) FROM public.blobs WHERE b IS NULL") == [(1,)]
    assert pg._rows("SELECT count(*) FROM public.blobs WHERE s IS NULL") == [(1,)]
    pg.close()


def test_pg_csv_read_keeps_null_rows_keys_and_falls_back(pg_db):
    pg = get_dialect(pg_db)
    # A one-column row holding NULL is an empty CSV line.
    pg.execute("CREATE TABLE public.one (k int PRIMARY KEY, s text)")
    pg.execute("INSERT INTO public.one VALUES (1, NULL), (2, ''), (3, E'a\\nb'), (4, '\\.')")
    t = pg.describe_table("public", "one")
    assert _read(pg, t, ["s"], 2) == [{"s": None}, {"s": ""}, {"s": "a\nb"}, {"s": "\\."}]
    # Composite text/date key with quotes, braces and percent signs; hostile names.
    pg.execute(
        'CREATE TABLE public."we{i}rd%""t" ("k{}" text, d date, n numeric(6, 2), '
        'PRIMARY KEY ("k{}", d))'
    )
    pg.execute(
        'INSERT INTO public."we{i}rd%""t" SELECT $$k'
        "{%$$ || (g % 4), "
        "DATE '2020-01-01' + g, g / 4.0 FROM generate_series(1, 30) g"
    )
    t = pg.describe_table("public", 'we{i}rd%"t')
    got = _read(pg, t, ["n"], 4)
    assert len(got) == 30
    assert sorted(r["n"] for r in got) == [Decimal(g) / 4 for g in range(1, 31)]
    # A value Arrow does not read exactly (more digits than the Arrow scale) switches to the
    # driver path mid-stream, which rounds it as before.
    pg.execute("CREATE TABLE public.special (k int PRIMARY KEY, n numeric, d date)")
    pg.execute(
        "INSERT INTO public.special SELECT g, g, DATE '2020-01-01' FROM generate_series(1, 10) g"
    )
    pg.execute("UPDATE public.special SET n = 1.123456789012 WHERE k = 6")
    t = pg.describe_table("public", "special")
    got = _read(pg, t, ["k", "n"], 3)
    assert [r["k"] for r in got] == list(range(1, 11))
    assert [r["n"] for r in got if r["k"] in (5, 6)] == [Decimal(5), Decimal("1.1234567890")]
    pg.close()


def test_mariadb_text_dates_and_zero_date_fallback(mariadb_db):
    my = get_dialect(mariadb_db)
    my.execute("SET SESSION sql_mode = ''")
    my.execute("CREATE TABLE t (d DATE, ts DATETIME(6), v DATE, PRIMARY KEY (d, ts))")
    my.execute(
        "INSERT INTO t VALUES ('2020-01-01', '2020-01-01 00:00:00.5', '0001-01-01'), "
        "('2020-01-01', '2020-01-01 00:00:01', NULL), "
        "('2020-01-02', '2020-01-01 00:00:00', '0000-00-00')"
    )
    t = my.describe_table(mariadb_db.database, "t")
    assert _read(my, t, ["d", "ts", "v"], 1) == [
        {
            "d": dt.date(2020, 1, 1),
            "ts": dt.datetime(2020, 1, 1, 0, 0, 0, 500000),
            "v": dt.date(1, 1, 1),
        },
        {"d": dt.date(2020, 1, 1), "ts": dt.datetime(2020, 1, 1, 0, 0, 1), "v": None},
        {"d": dt.date(2020, 1, 2), "ts": dt.datetime(2020, 1, 1), "v": None},
    ]
    my.close()


def test_sqlite_storage_forms_and_mixed_values(sqlite_db):
    lite = get_dialect(sqlite_db)
    lite.execute(
        "CREATE TABLE t (k INTEGER PRIMARY KEY, ts DATETIME, d DATE, n NUMERIC(8, 2), b BOOLEAN)"
    )
    t = lite.describe_table("main", "t")
    rows = [
        {
            "k": 1,
            "ts": dt.datetime(2020, 1, 2, 3, 4, 5),
            "d": dt.date(2020, 1, 2),
            "n": Decimal("1.50"),
            "b": True,
        },
        {"k": 2, "ts": dt.datetime(2020, 1, 2, 3, 4, 5, 120), "d": None, "n": None, "b": False},
        {"k": 3, "ts": None, "d": dt.date(1, 1, 1), "n": Decimal("-0.05"), "b": None},
    ]
    with lite.transaction():
        lite.write_batch(
            t,
            ["k", "ts", "d", "n", "b"],
            pa.RecordBatch.from_pylist(rows, schema=arrow_schema(t.columns)),
        )
    raw = sqlite3.connect(sqlite_db.database)
    assert raw.execute("SELECT ts, d FROM t ORDER BY k").fetchall() == [
        ("2020-01-02 03:04:05", "2020-01-02"),
        ("2020-01-02 03:04:05.000120", None),
        (None, "0001-01-01"),
    ]
    assert _read(lite, t, ["k", "ts", "d", "n", "b"], 2) == rows
    # Other stored forms go value by value: epoch numbers, offsets, 'true' text, long floats.
    raw.execute(
        "INSERT INTO t VALUES (4, 0, '2020-01-02T00:00:00', 0.125, 'true'), "
        "(5, '2020-01-02 03:04:05+01:00', '2020-01-03', 2, 1)"
    )
    raw.commit()
    got = _read(lite, t, ["k", "ts", "d", "n", "b"], 10)[3:]
    assert got == [
        {
            "k": 4,
            "ts": dt.datetime(1970, 1, 1),
            "d": dt.date(2020, 1, 2),
            "n": Decimal("0.12"),
            "b": True,
        },
        {
            "k": 5,
            "ts": dt.datetime(2020, 1, 2, 2, 4, 5),
            "d": dt.date(2020, 1, 3),
            "n": Decimal("2.00"),
            "b": True,
        },
    ]
    raw.close()
    lite.close()
