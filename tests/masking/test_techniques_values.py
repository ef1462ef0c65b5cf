"""Property tests for numeric, date/time and UUID techniques (no Django, no database)."""

from __future__ import annotations

import datetime as dt
import decimal
import re

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from masking.schema import ColumnSpec, TypeCategory
from masking.techniques import MaskContext, make_masker
from masking.techniques.dates import age_band

PROPS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SECRET = b"test-secret-0123456789"


def ctx(category: TypeCategory, **kw) -> MaskContext:
    return MaskContext(secret=SECRET, column=ColumnSpec(category, **kw))


def run(name: str, values: list, params: dict | None, c: MaskContext, typ: pa.DataType) -> list:
    return make_masker(name, params, c)(pa.array(values, typ)).to_pylist()


# -- numbers ---------------------------------------------------------------------------------
ints = st.lists(st.one_of(st.none(), st.integers(-(10**6), 10**6)), min_size=1, max_size=40)


@PROPS
@given(values=ints, pct=st.floats(0.5, 90))
def test_noise_keeps_sign_and_type(values: list, pct: float) -> None:
    out = make_masker("noise", {"percent": pct}, ctx(TypeCategory.NUMERIC))(
        pa.array(values, pa.int32())
    )
    assert out.type == pa.int32()
    for v, o in zip(values, out.to_pylist(), strict=True):
        assert (v is None) == (o is None)
        if v:
            assert (o > 0) == (v > 0) or o == 0
            assert abs(o - v) <= abs(v) * pct / 100 + 1


@PROPS
@given(
    values=st.lists(
        st.decimals(-999, 999, places=2, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=30,
    ),
    name=st.sampled_from(["random_number", "noise", "hash_number", "round", "fixed_number"]),
)
def test_decimal_precision_and_scale(values: list, name: str) -> None:
    typ = pa.decimal128(5, 2)
    out = make_masker(name, None, ctx(TypeCategory.NUMERIC, precision=5, scale=2))(
        pa.array(values, typ)
    )
    assert out.type == typ
    for o in out.to_pylist():
        assert abs(o) < 1000 and o == o.quantize(decimal.Decimal("0.01"))


@PROPS
@given(values=st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=40))
def test_random_and_hash_number_hide_identity_and_range(values: list) -> None:
    r = make_masker("random_number", {"min": 10, "max": 20}, ctx(TypeCategory.NUMERIC))(
        pa.array(values)
    )
    assert all(10 <= o <= 20 and o != v for o, v in zip(r.to_pylist(), values, strict=True))
    h = make_masker("hash_number", None, ctx(TypeCategory.NUMERIC, precision=6))(pa.array(values))
    assert all(0 < o < 10**6 and o != v for o, v in zip(h.to_pylist(), values, strict=True))


def test_sequence_continues_across_batches() -> None:
    m = make_masker("sequence", {"start": 100, "step": 5}, ctx(TypeCategory.NUMERIC, unique=True))
    a = m(pa.array([7, None, 7])).to_pylist()
    b = m(pa.array([1])).to_pylist()
    assert a == [100, None, 105] and b == [110]


def test_round_buckets() -> None:
    assert make_masker("round", {"to": 100}, ctx(TypeCategory.NUMERIC))(
        pa.array([149, 151])
    ).to_pylist() == [100, 200]


# -- dates -----------------------------------------------------------------------------------
dates = st.lists(
    st.one_of(st.none(), st.dates(dt.date(1900, 1, 1), dt.date(2099, 1, 1))),
    min_size=1,
    max_size=40,
)


@PROPS
@given(values=dates, lo=st.integers(-60, 0), span=st.integers(1, 60))
def test_date_shift_in_range_and_never_identity(values: list, lo: int, span: int) -> None:
    out = run(
        "date_shift",
        values,
        {"min_days": lo, "max_days": lo + span},
        ctx(TypeCategory.DATE),
        pa.date32(),
    )
    for v, o in zip(values, out, strict=True):
        assert (v is None) == (o is None)
        if v:
            assert o != v and lo <= (o - v).days <= lo + span


@PROPS
@given(values=dates)
def test_random_date_range_and_generalize(values: list) -> None:
    p = {"start": "2000-01-01", "end": "2000-12-31"}
    out = run("random_date", values, p, ctx(TypeCategory.DATE), pa.date32())
    assert all(o is None or dt.date(2000, 1, 1) <= o <= dt.date(2000, 12, 31) for o in out)
    g = run("generalize", values, {"granularity": "month"}, ctx(TypeCategory.DATE), pa.date32())
    assert all(
        o is None or (o.day == 1 and (o.year, o.month) == (v.year, v.month))
        for v, o in zip(values, g, strict=True)
    )


@PROPS
@given(
    values=st.lists(st.dates(dt.date(1930, 1, 1), dt.date(2019, 12, 31)), min_size=1, max_size=40),
    band=st.integers(1, 20),
)
def test_birth_date_keeps_age_band(values: list, band: int) -> None:
    ref = dt.date(2025, 1, 1)
    out = run(
        "birth_date",
        values,
        {"band_years": band, "reference": "2025-01-01"},
        ctx(TypeCategory.DATE),
        pa.date32(),
    )
    for v, o in zip(values, out, strict=True):
        days = [(x - dt.date(1970, 1, 1)).days for x in (v, o)]
        b = age_band(np.array(days, dtype=np.float64), ref, band)
        assert b[0] == b[1] and o != v


def test_datetime_and_time_types_are_kept() -> None:
    ts = pa.array([dt.datetime(2020, 1, 1, 12)], pa.timestamp("ms"))
    assert make_masker("datetime_shift", None, ctx(TypeCategory.DATETIME))(ts).type == pa.timestamp(
        "ms"
    )
    tm = pa.array([dt.time(10, 30)], pa.time64("us"))
    assert make_masker("generalize", {"granularity": "hour"}, ctx(TypeCategory.TIME))(
        tm
    ).to_pylist() == [dt.time(10)]


def test_uuid_keeps_type_and_changes() -> None:
    raw = pa.array([b"\x01" * 16], pa.binary(16))
    out = make_masker("random_uuid", None, ctx(TypeCategory.UUID))(raw)
    assert out.type == pa.binary(16) and out[0].as_py() != b"\x01" * 16
    uid = ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]
    s = run("random_uuid", uid, None, ctx(TypeCategory.UUID), pa.string())[0]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", s)
