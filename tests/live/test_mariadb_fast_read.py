"""MariaDB reads dates, datetimes and decimals as text and converts pages in one Arrow pass;
the result equals the driver's own conversion, including pages that must fall back."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import masking.dialects.mysql_values as mysql_values
from masking.dialects import arrowconv, get_dialect
from masking.errors import TerminalError

pytestmark = pytest.mark.live

DDL = (
    "CREATE TABLE t (k INT PRIMARY KEY, d DATE, ts DATETIME(6), n DECIMAL(13, 3), "
    "b TINYINT(1), s VARCHAR(20), i BIGINT, f DOUBLE, big DECIMAL(40, 0)) "
    "CHARACTER SET utf8mb4"
)
ROW = st.tuples(
    st.none() | st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)),
    st.none() | st.datetimes(dt.datetime(1000, 1, 1), dt.datetime(9999, 12, 31)),
    st.none() | st.decimals(-(10**9), 10**9, places=3, allow_nan=False, allow_infinity=False),
    st.none() | st.integers(-128, 127),
    st.none()
    | st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=8),
    st.none() | st.integers(-(2**63), 2**63 - 1),
    st.none() | st.floats(-1e300, 1e300, allow_nan=False),
    st.none() | st.integers(-(10**37), 10**37) | st.sampled_from([10**39, -(10**39) + 1]),
)


def _read(d, t, cols, size):  # type: ignore[no-untyped-def]
    try:
        return [r for b in d.read_batches(t, cols, size) for r in b.to_pylist()]
    except Exception as exc:  # noqa: BLE001 - unreadable values must fail alike on both paths
        return f"{type(exc).__name__}: {exc}"


def test_one_pass_text_read_matches_driver_conversion(mariadb_db, monkeypatch):
    my = get_dialect(mariadb_db)
    my.execute(DDL)
    t = my.describe_table(mariadb_db.database, "t")
    names = ["d", "ts", "n", "b", "s", "i", "f", "big"]

    def driver_only(d, cols, size):  # type: ignore[no-untyped-def]
        with monkeypatch.context() as m:
            m.setattr(mysql_values, "text_temporal", lambda c: False)
            m.setattr(mysql_values, "text_decimal", lambda c: False)
            m.setattr(arrowconv.RowsToArrow, "batch", lambda self, rows: None)
            return _read(d, t, cols, size)

    @settings(
        max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        rows=st.lists(ROW, min_size=1, max_size=6),
        size=st.integers(1, 4),
        cols=st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True),
    )
    def check(rows, size, cols):
        my.execute("DELETE FROM t")
        for i, r in enumerate(rows):
            my.execute(f"INSERT INTO t VALUES (%s, {', '.join('%s' for _ in names)})", (i, *r))
        got = _read(my, t, cols, size)
        assert got == driver_only(my, cols, size)
        if not isinstance(got, str) and "big" not in cols:
            assert len(got) == len(rows)

    check()
    my.close()


def test_decimals_and_keys_not_asked_for(mariadb_db):
    my = get_dialect(mariadb_db)
    my.execute(
        "CREATE TABLE t (a INT, b VARCHAR(5), n DECIMAL(8, 3), big DECIMAL(40, 0), "
        "ok TINYINT(1), PRIMARY KEY (b, a))"
    )
    my.execute(
        "INSERT INTO t VALUES (1, 'x', 1.5, 1, 1), (2, 'x', -0.001, NULL, 0), "
        "(1, 'y', NULL, 5, NULL)"
    )
    t = my.describe_table(mariadb_db.database, "t")
    assert [r for b in my.read_batches(t, ["n", "ok"], 2) for r in b.to_pylist()] == [
        {"n": Decimal("1.500"), "ok": True},
        {"n": Decimal("-0.001"), "ok": False},
        {"n": None, "ok": None},
    ]
    # 40 digits do not fit Arrow's decimal128: refused, never wrapped around.
    my.execute("UPDATE t SET big = %s WHERE a = 2", (10**39,))
    with pytest.raises(TerminalError, match="big"):
        list(my.read_batches(t, ["big"], 10))
    my.execute("UPDATE t SET big = %s WHERE a = 2", (-(10**38) + 1,))
    assert [r["big"] for b in my.read_batches(t, ["big"], 10) for r in b.to_pylist()] == [
        Decimal(1),
        Decimal(-(10**38) + 1),
        Decimal(5),
    ]
    my.close()
