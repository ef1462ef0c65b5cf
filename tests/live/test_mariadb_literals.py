"""MariaDB inserts render VALUES with Arrow instead of the driver's per-value quoting: every
value must arrive exactly as the driver path would store it — hostile text (quotes,
backslashes, NUL, percent signs, any Unicode) in both backslash modes, numbers, dates, times —
and types Arrow does not render fall back to the driver."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import masking.dialects.mysql_values as mysql_values
from masking.dialects import get_dialect
from masking.dialects.arrowconv import arrow_schema

pytestmark = pytest.mark.live

DDL = (
    "CREATE TABLE lit (k INT PRIMARY KEY, s LONGTEXT, n DECIMAL(13, 3), f DOUBLE, "
    "r FLOAT, b TINYINT(1), d DATE, ts DATETIME(6), t TIME(6), bin VARBINARY(20)) "
    "DEFAULT CHARSET=utf8mb4"
)
# Binary is left to the driver (X'..' literals are not rendered), so it is loaded on its own.
COLS = ["k", "s", "n", "f", "r", "b", "d", "ts", "t"]

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30) | st.sampled_from(
    [
        "'",
        "''",
        "\\",
        "\\'",
        "\\\\'",
        "\x00",
        "%s",
        "%(k)s",
        "');DROP TABLE lit;--",
        "\x1a",
        "\r\n",
        '"',
        "`",
    ]
)
row = st.fixed_dictionaries(
    {
        "s": st.none() | text,
        "n": st.none()
        | st.decimals(
            min_value=-9_999_999_999,
            max_value=9_999_999_999,
            places=3,
            allow_nan=False,
            allow_infinity=False,
        ),
        "f": st.none() | st.floats(allow_nan=False, allow_infinity=False, width=64),
        "r": st.none() | st.floats(allow_nan=False, allow_infinity=False, width=32),
        "b": st.none() | st.booleans(),
        "d": st.none() | st.dates(dt.date(1000, 1, 1), dt.date(9999, 12, 31)),
        "ts": st.none() | st.datetimes(dt.datetime(1000, 1, 1), dt.datetime(9999, 12, 31)),
        "t": st.none() | st.times(),
    }
)


@pytest.fixture
def pair(mariadb_db_factory):  # type: ignore[no-untyped-def]
    """Two fresh databases with the same table: one loaded by Arrow literals, one by the
    driver."""
    out = []
    for _ in range(2):
        d = get_dialect(mariadb_db_factory())
        d.execute(DDL)
        out.append(d)
    yield out
    for d in out:
        d.close()


def _no_driver(*args):  # type: ignore[no-untyped-def]
    raise AssertionError("the batch went through the driver's quoting")


def _load(
    d,
    rows,
    *,
    driver: bool,
    no_backslash: bool,
    monkeypatch,  # type: ignore[no-untyped-def]
    cols=COLS,
):
    t = d.describe_table(d.params.database, "lit")
    d.execute("DELETE FROM lit")
    mode = d._rows("SELECT @@SESSION.sql_mode")[0][0]
    modes = [m for m in mode.split(",") if m and m != "NO_BACKSLASH_ESCAPES"]
    d.execute(
        "SET SESSION sql_mode = %s",
        (",".join(modes + (["NO_BACKSLASH_ESCAPES"] if no_backslash else [])),),
    )
    d._escapes_for = None
    batch = pa.RecordBatch.from_pylist(
        [{"k": i, **r} for i, r in enumerate(rows)],
        schema=arrow_schema([t.column(c) for c in cols]),
    )
    with monkeypatch.context() as m:
        if driver:
            m.setattr(mysql_values, "row_literals", lambda *a, **k: None)
        else:
            m.setattr(mysql_values, "encode_column", _no_driver)
        with d.transaction():
            d.write_batch(t, cols, batch)
    return d._rows(f"SELECT {', '.join(cols)} FROM lit ORDER BY k")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(row, min_size=1, max_size=12), no_backslash=st.booleans())
def test_arrow_literals_store_what_the_driver_stores(pair, monkeypatch, rows, no_backslash):  # type: ignore[no-untyped-def]
    fast, driver = pair
    stored = _load(fast, rows, driver=False, no_backslash=no_backslash, monkeypatch=monkeypatch)
    expected = _load(driver, rows, driver=True, no_backslash=no_backslash, monkeypatch=monkeypatch)
    assert stored == expected
    assert [r[1] for r in stored] == [r["s"] for r in rows]


def test_hostile_text_round_trips_in_both_modes(pair, monkeypatch):  # type: ignore[no-untyped-def]
    fast, _ = pair
    nasty = ["'", "\\", "\\'", "a\x00b", "%s", "');DROP TABLE lit;--", "é€𝄞", "\\0", "''"]
    for no_backslash in (False, True):
        stored = _load(
            fast,
            [{"s": s} for s in nasty],
            driver=False,
            no_backslash=no_backslash,
            monkeypatch=monkeypatch,
        )
        assert [r[1] for r in stored] == nasty


def test_a_binary_column_goes_through_the_driver(pair, monkeypatch):  # type: ignore[no-untyped-def]
    fast, _ = pair
    values = [b"\x00'\\", b"", None, bytes(range(20))]
    with pytest.raises(AssertionError, match="driver's quoting"):
        _load(
            fast,
            [{"bin": v} for v in values],
            driver=False,
            no_backslash=False,
            monkeypatch=monkeypatch,
            cols=["k", "bin"],
        )
    stored = _load(
        fast,
        [{"bin": v} for v in values],
        driver=True,
        no_backslash=False,
        monkeypatch=monkeypatch,
        cols=["k", "bin"],
    )
    assert [r[1] for r in stored] == values


def test_rendering_is_used_and_falls_back_for_types_it_does_not_render():
    plain = [pa.array([1]), pa.array(["x"]), pa.array([Decimal("1.5")], pa.decimal128(5, 1))]
    assert mysql_values.row_literals(plain, backslash_escapes=True) == ["(1, 'x', 1.5)"]
    for other in (
        pa.array([b"\x00"]),
        pa.array([float("inf")]),
        pa.array([Decimal("1E-10")], pa.decimal128(20, 10)),
        pa.array([dt.datetime(1, 1, 1) - dt.timedelta(0)], pa.timestamp("s")),
    ):
        assert mysql_values.row_literals([plain[0], other], backslash_escapes=True) is None
