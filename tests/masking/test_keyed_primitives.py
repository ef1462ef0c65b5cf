"""The primitives behind consistency: canonical forms, SipHash, keyed permutations."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masking.schema import TypeCategory
from masking.techniques.canonical import canonical
from masking.techniques.fpe import Permutation
from masking.techniques.siphash import siphash24

D = decimal.Decimal
UTC = dt.timezone.utc


def _canon(values: list, typ: pa.DataType, category: TypeCategory | None = None) -> list[str]:
    return [v.decode() for v in canonical(pa.array(values, typ), category).to_pylist()]


@pytest.mark.parametrize(
    ("values", "typ", "expected"),
    [
        (["ab  ", "ab", " x"], pa.string(), ["ab", "ab", " x"]),
        ([5, -42, 0], pa.int8(), ["5", "-42", "0"]),
        ([5, -42, 0], pa.int64(), ["5", "-42", "0"]),
        ([D("5.50"), D("100.00"), D("-0.00")], pa.decimal128(8, 2), ["5.5", "100", "0"]),
        ([D("5.5000"), D("0.0010")], pa.decimal128(12, 4), ["5.5", "0.001"]),
        ([5.0, 0.1, 1.5e-7, -0.0], pa.float64(), ["5", "0.1", "0.00000015", "0"]),
        ([float("nan"), float("inf")], pa.float64(), ["NaN", "Infinity"]),
        ([True, False], pa.bool_(), ["true", "false"]),
        ([dt.date(2024, 1, 2)], pa.date32(), ["2024-01-02"]),
        ([dt.date(2024, 1, 2)], pa.date64(), ["2024-01-02"]),
        ([dt.datetime(2024, 1, 2)], pa.timestamp("s"), ["2024-01-02"]),
        ([dt.datetime(2024, 1, 2, 3, 4, 5, 600)], pa.timestamp("ns"), ["2024-01-02 03:04:05.0006"]),
        (
            [dt.datetime(2024, 1, 2, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))],
            pa.timestamp("us", tz="+01:00"),
            ["2024-01-01 23:30:00"],
        ),
        ([dt.time(1, 2, 3, 500)], pa.time64("us"), ["01:02:03.0005"]),
        ([dt.time(1, 2, 3)], pa.time32("s"), ["01:02:03"]),
    ],
)
def test_canonical_text(values: list, typ: pa.DataType, expected: list[str]) -> None:
    assert _canon(values, typ) == expected


def test_canonical_uuid_from_text_and_bytes() -> None:
    u = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
    text = _canon([str(u).upper(), "{" + str(u) + "}"], pa.string(), TypeCategory.UUID)
    raw = _canon([u.bytes], pa.binary(16), TypeCategory.UUID)
    assert text == [str(u), str(u)] == raw * 2


def test_canonical_of_dictionaries_nulls_and_views() -> None:
    values = ["b", None, "a ", "b"]
    plain = canonical(pa.array(values)).to_pylist()
    assert plain == [b"b", b"", b"a", b"b"]
    assert canonical(pa.array(values).dictionary_encode()).to_pylist() == plain
    assert canonical(pa.array(values).cast(pa.string_view())).to_pylist() == plain


def _siphash_reference(message: bytes, key: bytes) -> int:
    """Straight from the SipHash paper, one value at a time."""
    mask = (1 << 64) - 1

    def rotl(x: int, b: int) -> int:
        return ((x << b) | (x >> (64 - b))) & mask

    k0, k1 = int.from_bytes(key[:8], "little"), int.from_bytes(key[8:], "little")
    v = [
        k0 ^ 0x736F6D6570736575,
        k1 ^ 0x646F72616E646F6D,
        k0 ^ 0x6C7967656E657261,
        k1 ^ 0x7465646279746573,
    ]

    def rounds(n: int) -> None:
        for _ in range(n):
            v[0] = (v[0] + v[1]) & mask
            v[1] = rotl(v[1], 13) ^ v[0]
            v[0] = rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & mask
            v[3] = rotl(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & mask
            v[3] = rotl(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & mask
            v[1] = rotl(v[1], 17) ^ v[2]
            v[2] = rotl(v[2], 32)

    end = len(message) // 8 * 8
    words = [int.from_bytes(message[i : i + 8], "little") for i in range(0, end, 8)]
    words.append(
        int.from_bytes(message[end:].ljust(7, b"\0")[:7], "little") | ((len(message) & 0xFF) << 56)
    )
    for m in words:
        v[3] ^= m
        rounds(2)
        v[0] ^= m
    v[2] ^= 0xFF
    rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=40), st.binary(min_size=16, max_size=16))
def test_vectorised_siphash_matches_the_reference(messages: list[bytes], key: bytes) -> None:
    got = siphash24(pa.array(messages, pa.binary()), key).tolist()
    assert got == [_siphash_reference(m, key) for m in messages]


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 5000), st.binary(min_size=1, max_size=8))
def test_permutations_are_bijections_without_fixed_points(size: int, secret: bytes) -> None:
    p = Permutation(secret, "test", size)
    x = np.arange(size, dtype=np.uint64)
    forward = p.forward(x)
    assert np.array_equal(np.sort(forward), x)
    assert np.array_equal(p.backward(forward), x)
    shifted = p.shift(x)
    assert np.array_equal(np.sort(shifted), x)
    assert not (shifted == x).any()


def test_permutations_depend_on_the_secret_and_the_label() -> None:
    x = np.arange(10_000, dtype=np.uint64)
    a = Permutation(b"one", "ssn", 10_000).shift(x)
    assert (a != Permutation(b"two", "ssn", 10_000).shift(x)).mean() > 0.99
    assert (a != Permutation(b"one", "sin", 10_000).shift(x)).mean() > 0.99
    big = Permutation(b"one", "ssn", 888_931_098)
    y = big.shift(np.arange(0, 888_931_098, 8_889_311, dtype=np.uint64))
    assert y.max() < 888_931_098 and len(set(y.tolist())) == len(y)


def test_the_c_extension_is_built_where_the_tests_run() -> None:
    """CI installs the package as users do, so the compiled hash must be there; elsewhere the
    numpy reference serves (slower, same values)."""
    import os

    from masking.techniques import siphash

    if os.environ.get("CI") == "true":
        assert siphash._native is not None, "masking.techniques._siphash was not built"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(max_size=70), max_size=60), st.binary(min_size=16, max_size=16))
def test_c_and_numpy_siphash_agree(messages: list[bytes], key: bytes) -> None:
    from masking.techniques.siphash import siphash24_numpy

    arr = pa.array(messages, pa.binary())
    assert siphash24(arr, key).tolist() == siphash24_numpy(arr, key).tolist()


_UNITS = ("s", "ms", "us", "ns")


@settings(max_examples=60, deadline=None)
@given(
    ints=st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=40),
    days=st.lists(st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)), min_size=1, max_size=40),
    stamps=st.lists(
        st.datetimes(dt.datetime(1678, 1, 1), dt.datetime(2261, 12, 31)), min_size=1, max_size=40
    ),
    unit=st.sampled_from(_UNITS),
    texts=st.lists(st.text(alphabet=" ab\u00e9\u4e2d\t", max_size=12), min_size=2, max_size=40),
)
def test_fixed_width_fast_path_hashes_the_canonical_text(ints, days, stamps, unit, texts) -> None:
    """The C path writes the canonical text itself: it must equal canonical() byte for byte."""
    from masking.techniques.keyed import _fixed_width_keys

    key = bytes(range(16))
    for arr in (
        pa.array(texts, pa.string()),
        pa.array(texts, pa.large_string()),
        pa.array(texts, pa.string()).slice(1),  # an offset into the buffers
        pa.array(ints, pa.int64()),
        pa.array(days, pa.date32()),
        pa.array(stamps, pa.timestamp(unit)),
    ):
        fast = _fixed_width_keys(arr, key)
        if fast is None:  # no extension here: nothing to compare
            continue
        assert fast.tolist() == siphash24(canonical(arr), key).tolist()


@settings(max_examples=30, deadline=None)
@given(
    size=st.integers(2, 10**15),
    values=st.lists(st.integers(0, 10**15), min_size=1, max_size=50),
    secret=st.binary(min_size=1, max_size=8),
)
def test_c_and_numpy_permutations_agree(size: int, values: list[int], secret: bytes) -> None:
    x = np.array([v % size for v in values], dtype=np.uint64)
    fast, reference = Permutation(secret, "p", size), Permutation(secret, "p", size, native=False)
    assert fast.forward(x).tolist() == reference.forward(x).tolist()
    assert fast.backward(x).tolist() == reference.backward(x).tolist()
    assert fast.shift(x).tolist() == reference.shift(x).tolist()


@pytest.mark.parametrize("size", [2, 3, 5, 10, 17, 26, 50, 101])
def test_c_permutation_walks_each_lane_alone(size: int) -> None:
    """Small domains send many values out of range(size) (a * b exceeds it by up to a third),
    so values taken side by side in C walk different numbers of times; each must still land
    where the numpy reference puts it, and the whole domain must map onto itself."""
    x = np.arange(size, dtype=np.uint64)
    fast = Permutation(b"lanes", "p", size)
    reference = Permutation(b"lanes", "p", size, native=False)
    for way in ("forward", "backward", "shift"):
        got = getattr(fast, way)(x)
        assert got.tolist() == getattr(reference, way)(x).tolist()
        assert sorted(got.tolist()) == list(range(size))
    assert fast.backward(fast.forward(x)).tolist() == x.tolist()
