"""Date, datetime and time techniques, on integer ticks (days, or the timestamp's unit)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from masking.techniques.keyed import below, uniform
from masking.techniques.registry import DT, D, Impl, Param, T, Technique, register

_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
MIN_DAY = (dt.date(1, 1, 1) - dt.date(1970, 1, 1)).days
MAX_DAY = (dt.date(9999, 12, 31) - dt.date(1970, 1, 1)).days
DAYS_PER_YEAR = 365.2425


def per_day(typ: pa.DataType) -> int:
    """Ticks in one day for this arrow type (dates count days)."""
    if pa.types.is_date32(typ) or pa.types.is_date64(typ):
        return 1
    return 86_400 * _PER_SECOND[typ.unit]


def to_ticks(src: pa.Array) -> np.ndarray:
    typ = src.type
    if pa.types.is_date64(typ):
        src = src.cast(pa.date32())
        typ = pa.date32()
    width = pa.int32() if pa.types.is_date32(typ) or pa.types.is_time32(typ) else pa.int64()
    return src.cast(width).to_numpy(zero_copy_only=False).astype(np.int64)


def from_ticks(x: np.ndarray, typ: pa.DataType) -> pa.Array:
    pd = per_day(typ)
    if pa.types.is_time(typ):
        x = np.mod(x, pd)
    else:
        x = np.clip(x, MIN_DAY * pd, MAX_DAY * pd)
    if pa.types.is_date64(typ):
        return pa.array(x.astype(np.int32), pa.int32()).cast(pa.date32()).cast(typ)
    width = pa.int32() if pa.types.is_date32(typ) or pa.types.is_time32(typ) else pa.int64()
    return pa.array(x.astype(width.to_pandas_dtype()), width).cast(typ)


def _nonzero_offset(keys: np.ndarray, lo: int, hi: int, salt: int) -> np.ndarray:
    """Uniform in [lo, hi] without 0, so a shift always moves the value."""
    span = hi - lo + (0 if lo <= 0 <= hi else 1)
    off = lo + below(keys, max(span, 1), salt)
    if lo <= 0 <= hi:
        off = np.where(off >= 0, off + 1, off)
    return off


def _shift_validate(params: dict) -> dict[str, str]:
    if params["max_days"] < params["min_days"]:
        return {"max_days": "must be at least min_days"}
    if params["min_days"] == 0 == params["max_days"]:
        return {"max_days": "the range must allow a non-zero shift"}
    return {}


def _date_shift(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    off = _nonzero_offset(keys, m.params["min_days"], m.params["max_days"], 1)
    return from_ticks(to_ticks(src) + off * per_day(src.type), src.type)


def _datetime_shift(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    pd = per_day(src.type)
    if m.params.get("entity_column"):
        # per entity: whole days, the same offset date_shift gives that entity's dates
        return _date_shift(keys, src, attempt, m)
    secs = _nonzero_offset(keys, m.params["min_days"] * 86_400, m.params["max_days"] * 86_400, 2)
    return from_ticks(to_ticks(src) + secs * (pd // 86_400), src.type)


ENTITY_LABEL = "shift/entity"  # date_shift and datetime_shift share it: one offset per entity
_SHIFT_PARAMS = (
    Param("min_days", "int", -30, min=-36500, max=36500, help="Earliest shift, days"),
    Param("max_days", "int", 30, min=-36500, max=36500, help="Latest shift, days"),
    Param(
        "entity_column",
        "str",
        None,
        help="Shift all dates of one entity by the same offset: a column of the same source "
        "table naming it (e.g. customer_id); intervals between its dates are kept",
    ),
)
register(
    Technique(
        "date_shift",
        "Shift dates",
        frozenset({D, DT}),
        _SHIFT_PARAMS,
        identity_hiding=True,
        deterministic=True,
        unique_capable=False,
        description="Moves each value by a non-zero number of whole days, keyed per value, or "
        "per entity when entity_column names the row's entity key: then every date and "
        "date-time of that entity, in every table, moves by the same number of days.",
    ),
    Impl(render=_date_shift, extra_validate=_shift_validate, entity_label=ENTITY_LABEL),
)
register(
    Technique(
        "datetime_shift",
        "Shift date-times",
        frozenset({DT}),
        _SHIFT_PARAMS,
        identity_hiding=True,
        deterministic=True,
        unique_capable=False,
        description="Moves each value by a non-zero number of seconds within the day range, "
        "keyed per value; with entity_column, by the entity's whole-day offset (the same as "
        "date_shift gives its dates).",
    ),
    Impl(render=_datetime_shift, extra_validate=_shift_validate, entity_label=ENTITY_LABEL),
)


def _day(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


def _random_date(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    pd = per_day(src.type)
    if pa.types.is_time(src.type):  # whole seconds: the same time in every unit
        seconds = (uniform(keys, 3) * 86_400).astype(np.int64)
        return from_ticks(seconds * (pd // 86_400), src.type)
    lo, hi = _day(m.params["start"]), _day(m.params["end"])
    days = lo + below(keys, hi - lo + 1, 4)
    ticks = days * pd
    if pd > 1:  # a random time of day too
        ticks = ticks + (uniform(keys, 5) * 86_400).astype(np.int64) * (pd // 86_400)
    return from_ticks(ticks, src.type)


register(
    Technique(
        "random_date",
        "Random date",
        frozenset({D, DT, T}),
        (Param("start", "date", dt.date(1970, 1, 1)), Param("end", "date", dt.date(2030, 12, 31))),
        identity_hiding=True,
        deterministic=True,
        unique_capable=False,
        description="Uniform between start and end (times: any time of day).",
    ),
    Impl(
        render=_random_date,
        extra_validate=lambda p: (
            {"end": "must not be before start"} if p["end"] < p["start"] else {}
        ),
    ),
)


def _generalize(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    g = m.params["granularity"]
    if pa.types.is_time(src.type):
        step = per_day(src.type) // (24 if g in ("year", "month", "day", "hour") else 1440)
        return from_ticks(to_ticks(src) // step * step, src.type)
    unit = {"year": "year", "month": "month", "day": "day", "hour": "hour"}[g]
    if pa.types.is_date(src.type) and unit == "hour":
        unit = "day"
    out = pc.floor_temporal(src, unit=unit)
    return out.cast(src.type)


register(
    Technique(
        "generalize",
        "Generalise",
        frozenset({D, DT, T}),
        (Param("granularity", "choice", "year", choices=("year", "month", "day", "hour")),),
        identity_hiding=False,
        deterministic=True,
        unique_capable=False,
        description="Truncates to the first day of the year or month (times: to the hour).",
    ),
    Impl(render=_generalize),
)


# a fixed default, not "today": a masked birth date must not change when the year does
DEFAULT_REFERENCE = dt.date(2026, 1, 1)


def _reference(m) -> dt.date:
    return m.params["reference"] or DEFAULT_REFERENCE


def age_band(birth_days: np.ndarray, reference: dt.date, band: int) -> np.ndarray:
    """Age band index with the age in years as floor(days / 365.2425)."""
    age = np.floor((_day(reference) - birth_days) / DAYS_PER_YEAR)
    return np.floor_divide(age, band)


def _birth_date(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    pd = per_day(src.type)
    band = m.params["band_years"]
    ref = _day(_reference(m))
    days = np.floor_divide(to_ticks(src), pd)
    b = age_band(days, _reference(m), band)
    lo = np.ceil(b * band * DAYS_PER_YEAR)
    hi = np.ceil((b + 1) * band * DAYS_PER_YEAR) - 1
    age_days = lo + np.floor(uniform(keys, 6) * (hi - lo + 1))
    return from_ticks(((ref - age_days) * pd).astype(np.int64), src.type)


register(
    Technique(
        "birth_date",
        "Birth date (keeps age band)",
        frozenset({D, DT}),
        (
            Param("band_years", "int", 10, min=1, max=100, help="Width of the age band"),
            Param(
                "reference",
                "date",
                None,
                help="Date ages are measured at (default 2026-01-01, fixed so re-runs in later "
                "years give the same dates)",
            ),
        ),
        identity_hiding=True,
        deterministic=True,
        unique_capable=False,
        description="A different birth date whose age falls in the same band.",
    ),
    Impl(render=_birth_date),
)


def _fixed_date(keys: np.ndarray, src: pa.Array, attempt: np.ndarray, m) -> pa.Array:
    pd = per_day(src.type)
    x = 0 if pa.types.is_time(src.type) else _day(m.params["value"]) * pd
    return from_ticks(np.full(len(src), x, dtype=np.int64), src.type)


register(
    Technique(
        "fixed_date",
        "Fixed date",
        frozenset({D, DT, T}),
        (Param("value", "date", dt.date(2000, 1, 1)),),
        identity_hiding=False,
        deterministic=True,
        unique_capable=False,
        description="Writes one date (times: midnight) into every non-NULL row.",
    ),
    Impl(render=_fixed_date),
)
