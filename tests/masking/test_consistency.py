"""Consistency: every deterministic technique is a function of (key, technique, params, value).

For random inputs, masking the same values (a) as a unique and a non-unique column, (b) in
columns of different lengths of one consistency group, (c) in other batch sizes and row
orders, (d) with half of the rows filtered out, and (e) from another Arrow encoding of the
same logical values gives identical outputs."""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import replace

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from masking.consistency import Group, Member, member_spec, tightest
from masking.schema import ColumnSpec, TypeCategory
from masking.techniques import MaskContext, all_techniques, make_masker

PROPS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SECRET = b"consistency-key-0123456789"
T = TypeCategory

PARAMS = {"regex_replace": {"pattern": "[aeiou]"}, "random_number": {"min": 0, "max": 90}}
DETERMINISTIC = [
    (t.name, cat)
    for t in all_techniques()
    if t.deterministic
    for cat in sorted(t.categories)
    if cat is not T.OTHER
]

_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=24
)
_identifier = st.one_of(
    st.from_regex(r"\A[0-9]{3}-[0-9]{2}-[0-9]{4}\Z"),
    st.from_regex(r"\A\(4[0-9]{2}\) [2-9][0-9]{2}-[0-9]{4}\Z"),
    st.from_regex(r"\A[A-Z]{1,2}[0-9]{6,8}\Z"),
    st.from_regex(r"\A[a-z]{1,8}@[a-z]{1,8}\.(com|org)\Z"),
    _text,
)
VALUES = {
    T.STRING: st.one_of(_identifier, _text),
    T.NUMERIC: st.integers(1, 99),
    T.DATE: st.dates(dt.date(1930, 1, 1), dt.date(2030, 12, 31)),
    T.DATETIME: st.datetimes(dt.datetime(1930, 1, 1), dt.datetime(2030, 12, 31)).map(
        lambda d: d.replace(microsecond=0)
    ),
    T.TIME: st.times().map(lambda t: t.replace(microsecond=0)),
    T.BOOLEAN: st.booleans(),
    T.UUID: st.uuids().map(str),
    T.BINARY: st.binary(min_size=1, max_size=16),
}
ENCODINGS = {
    T.STRING: [
        lambda v: pa.array(v, pa.string()),
        lambda v: pa.array(v, pa.large_string()),
        lambda v: pa.array(v, pa.string()).cast(pa.string_view()),
        lambda v: pa.array(v, pa.string()).dictionary_encode(),
    ],
    T.NUMERIC: [
        lambda v: pa.array(v, pa.int8()),
        lambda v: pa.array(v, pa.int32()),
        lambda v: pa.array(v, pa.int64()),
        lambda v: pa.array([None if x is None else decimal.Decimal(x) for x in v]).cast(
            pa.decimal128(8, 2)
        ),
        lambda v: pa.array([None if x is None else decimal.Decimal(x) for x in v]).cast(
            pa.decimal128(12, 4)
        ),
    ],
    T.DATE: [lambda v: pa.array(v, pa.date32()), lambda v: pa.array(v, pa.date64())],
    T.DATETIME: [
        lambda v: pa.array(v, pa.timestamp("s")),
        lambda v: pa.array(v, pa.timestamp("us")),
        lambda v: pa.array(v, pa.timestamp("ns")),
    ],
    T.TIME: [lambda v: pa.array(v, pa.time32("s")), lambda v: pa.array(v, pa.time64("us"))],
    T.BOOLEAN: [lambda v: pa.array(v, pa.bool_())],
    T.UUID: [
        lambda v: pa.array(v, pa.string()),
        lambda v: pa.array([None if x is None else x.upper() for x in v], pa.string()),
    ],
    T.BINARY: [lambda v: pa.array(v, pa.binary()), lambda v: pa.array(v, pa.large_binary())],
}


def _spec(cat: TypeCategory, **kw: object) -> ColumnSpec:
    if cat is T.NUMERIC:  # the group of an int8 and a DECIMAL(8, 2) column: its tightest
        return ColumnSpec(cat, name="c", scale=0, extra={"int_digits": 2}, **kw)  # type: ignore[arg-type]
    return ColumnSpec(cat, name="c", **kw)  # type: ignore[arg-type]


def _mask(name: str, cat: TypeCategory, arr: pa.Array, spec: ColumnSpec | None = None) -> list:
    ctx = MaskContext(secret=SECRET, locale="en_CA", column=spec or _spec(cat))
    return _norm(make_masker(name, PARAMS.get(name), ctx)(arr).to_pylist())


def _norm(values: list) -> list:
    """Compare logical values: numbers as Decimal, UUID text in lower case."""
    out = []
    for v in values:
        if isinstance(v, int | float | decimal.Decimal) and not isinstance(v, bool):
            v = decimal.Decimal(v).normalize()
        elif isinstance(v, str) and len(v) == 36 and v.count("-") == 4:
            v = v.lower()
        out.append(v)
    return out


def _values(cat: TypeCategory) -> st.SearchStrategy[list]:
    return st.lists(st.one_of(st.none(), VALUES[cat]), min_size=2, max_size=40)


@pytest.mark.parametrize(("name", "cat"), DETERMINISTIC)
@PROPS
@given(data=st.data())
def test_same_values_mask_alike_everywhere(name: str, cat: TypeCategory, data) -> None:
    values = data.draw(_values(cat))
    encode = ENCODINGS[cat][0]
    expected = _mask(name, cat, encode(values))

    # (e) every Arrow encoding of the same logical values
    for other in ENCODINGS[cat][1:]:
        assert _mask(name, cat, other(values)) == expected

    # (c) other batch sizes and row orders, one masker across the batches as in a run
    order = data.draw(st.permutations(range(len(values))))
    cuts = sorted(data.draw(st.sets(st.integers(1, len(values) - 1), max_size=4)))
    shuffled = [values[i] for i in order]
    ctx = MaskContext(secret=SECRET, locale="en_CA", column=_spec(cat))
    masker = make_masker(name, PARAMS.get(name), ctx)
    got: list = []
    for lo, hi in zip([0, *cuts], [*cuts, len(values)], strict=True):
        got += _norm(masker(encode(shuffled[lo:hi])).to_pylist())
    assert got == [expected[i] for i in order]

    # (d) a row filter that removes half of the rows
    kept = [i for i in range(len(values)) if i % 2 == 0]
    assert _mask(name, cat, encode([values[i] for i in kept])) == [expected[i] for i in kept]


@pytest.mark.parametrize(
    ("name", "cat"),
    [
        (n, c)
        for n, c in DETERMINISTIC
        if next(t for t in all_techniques() if t.name == n).unique_capable
    ],
)
@PROPS
@given(data=st.data())
def test_unique_and_plain_columns_mask_alike(name: str, cat: TypeCategory, data) -> None:
    values = data.draw(_values(cat))
    arr = ENCODINGS[cat][0](values)
    assert _mask(name, cat, arr, _spec(cat, unique=True)) == _mask(name, cat, arr)


@pytest.mark.parametrize(("name", "cat"), [(n, c) for n, c in DETERMINISTIC if c is T.STRING])
@PROPS
@given(data=st.data(), lengths=st.lists(st.integers(30, 120), min_size=2, max_size=4))
def test_columns_of_one_group_mask_alike_whatever_their_length(
    name: str, cat: TypeCategory, data, lengths: list[int]
) -> None:
    values = data.draw(_values(cat))
    values = [None if v is None else v[:30] for v in values]
    specs = [replace(_spec(cat), max_length=n, name=f"c{n}") for n in lengths]
    group = Group(
        name, "{}", True, tuple(Member("t", s.name, s.max_length) for s in specs), tightest(specs)
    )
    arr = ENCODINGS[cat][0](values)
    outs = [_mask(name, cat, arr, member_spec(group, s)) for s in specs]
    assert all(o == outs[0] for o in outs)
    assert all(v is None or len(v) <= min(lengths) for v in outs[0] if isinstance(v, str))


def test_a_date_and_a_timestamp_at_midnight_mask_alike() -> None:
    days = [dt.date(1990, 1, 2), dt.date(2004, 2, 29), None]
    stamps = [None if d is None else dt.datetime(d.year, d.month, d.day) for d in days]
    for name in ("date_shift", "birth_date", "random_date"):
        as_date = _mask(name, T.DATE, pa.array(days, pa.date32()))
        as_stamp = _mask(name, T.DATETIME, pa.array(stamps, pa.timestamp("us")))
        assert [None if s is None else s.date() for s in as_stamp] == as_date, name


def test_char_padding_and_text_copies_of_numbers_mask_alike() -> None:
    padded = pa.array(["AB-1234   ", "person@example.org  "], pa.string())
    plain = pa.array(["AB-1234", "person@example.org"], pa.string())
    assert _mask("hash", T.STRING, padded) == _mask("hash", T.STRING, plain)
    number = _mask("hash", T.STRING, pa.array([decimal.Decimal("42.00")], pa.decimal128(6, 2)))
    assert number == _mask("hash", T.STRING, pa.array(["42"]))


def test_key_rotation_changes_every_output() -> None:
    values = pa.array([f"user{i}@example.org" for i in range(200)])
    for name in ("email", "ssn", "first_name", "phone", "hash"):
        a = make_masker(name, None, MaskContext(secret=b"key-one"))(values).to_pylist()
        b = make_masker(name, None, MaskContext(secret=b"key-two"))(values).to_pylist()
        same = sum(x == y for x, y in zip(a, b, strict=True))
        assert same <= 5, name  # pools of a few thousand values may agree by chance
