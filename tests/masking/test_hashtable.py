"""HashTable (``_hashset.c``): the C map behind the uniqueness checks, against a dict and
against SortedHashes, its numpy reference and fallback."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masking.techniques import hashset
from masking.techniques.hashset import HashTable, SortedHashes

# A laptop's source tree may lack the build; CI installs the package, so there it must run.
pytestmark = pytest.mark.skipif(
    hashset._native is None and not os.environ.get("CI"),
    reason="the _hashset extension is not built (pip install -e .)",
)

# small keys repeat often; 0 and 2**64-1 are keys like any other
_KEYS = st.one_of(st.integers(0, 40), st.sampled_from([0, 2**64 - 1]), st.integers(0, 2**64 - 1))


def _arr(xs: list[int]) -> np.ndarray:
    return np.array(xs, dtype=np.uint64)


def _add_new_ref(ref: dict[int, int], keys: list[int], vals: list[int]) -> tuple[int, int] | None:
    for i, (k, v) in enumerate(zip(keys, vals, strict=True)):
        if k in ref:
            return i, ref[k]
        ref[k] = v
    return None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.tuples(_KEYS, _KEYS), max_size=60), max_size=30))
def test_add_new_matches_a_dict_and_the_numpy_reference(batches: list) -> None:
    table, sorted_ = HashTable(), SortedHashes(payload=True)
    ref: dict[int, int] = {}
    for batch in batches:
        keys, vals = [k for k, _ in batch], [v for _, v in batch]
        want = _add_new_ref(ref, keys, vals)
        for impl in (table, sorted_):
            got = impl.add_new(_arr(keys), _arr(vals))
            assert (None if got is None else (got[0], int(got[1]))) == want
        probe = _arr(list(ref) + keys + [12345678901234567])
        found, owner = table.lookup(probe)
        assert found.tolist() == [int(k) in ref for k in probe]
        assert owner.tolist() == [ref.get(int(k), 0) for k in probe]
        assert table.count == len(ref)
        assert table.lookup(probe)[0].tolist() == sorted_.lookup(probe)[0].tolist()


def test_insert_keeps_the_first_value_and_counts_distinct_keys() -> None:
    t = HashTable()
    t.insert(_arr([5, 0, 5, 7]), _arr([1, 2, 3, 4]))
    assert t.count == 3
    found, owner = t.lookup(_arr([5, 0, 7, 6]))
    assert found.tolist() == [True, True, True, False]
    assert owner.tolist() == [1, 2, 4, 0]


def test_growth_keeps_every_key_and_half_the_slots_free() -> None:
    rng = np.random.default_rng(3)
    keys = np.unique(rng.integers(0, 2**64 - 1, 200_000, dtype=np.uint64))
    keys = np.concatenate([keys, np.arange(50_000, dtype=np.uint64)])  # dense low keys too
    keys = np.unique(keys)
    rng.shuffle(keys)
    t = HashTable()
    for part in np.array_split(keys, 37):
        assert t.add_new(part, part ^ np.uint64(0x5A5A)) is None
    assert t.count == len(keys)
    assert t.nbytes <= 17 * 2 * 2 * len(keys)  # 17 bytes a slot, more than half free at most
    assert t.nbytes >= 17 * 2 * len(keys)
    found, owner = t.lookup(keys)
    assert found.all()
    assert (owner == (keys ^ np.uint64(0x5A5A))).all()
    absent = np.setdiff1d(rng.integers(0, 2**64 - 1, 5000, dtype=np.uint64), keys)
    assert not t.lookup(absent)[0].any()


def test_a_reserved_table_takes_its_keys_without_growing() -> None:
    keys = np.arange(1, 100_001, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    t = HashTable()
    t.reserve(len(keys))
    size = t.nbytes
    assert size >= 17 * 2 * len(keys)
    for part in np.array_split(keys, 10):
        assert t.add_new(part, part) is None
    assert t.nbytes == size
    assert t.lookup(keys)[0].all()
    t.reserve(10)  # fewer than it holds: nothing changes
    assert t.nbytes == size and t.lookup(keys)[0].all()


def test_owners_reserve_only_what_stays_in_memory() -> None:
    from masking.spill import Owners

    assert Owners(limit=1000, expected=1_000_000)._map.nbytes < 17 * 2 * 2 * 1000
    assert Owners(limit=None, expected=50_000)._map.nbytes >= 17 * 2 * 50_000
    assert Owners(limit=None)._map.nbytes < 17 * 2 * 50_000


def test_expected_rows_reserve_memory_for_remembered_columns_only() -> None:
    """`id` is copied from the source (guaranteed unique, never remembered): only `code`,
    which is remembered, gets the table sized for the rows announced."""
    from masking.validate import BatchValidator
    from tests.masking.test_spill import _resolved

    v = BatchValidator(_resolved(), guaranteed=("id",), expected_rows=200_000)
    try:
        assert v.remember == {"code"}
        assert v.unique["code"]._map.nbytes >= 17 * 2 * 200_000
        assert v.unique["id"]._map.nbytes < 17 * 2 * 200_000
    finally:
        v.close()


def test_add_new_stops_at_the_first_repeat_and_adds_nothing_after() -> None:
    t = HashTable()
    assert t.add_new(_arr([10, 20]), _arr([1, 2])) is None
    assert t.add_new(_arr([30, 40, 30, 50, 20]), _arr([3, 4, 5, 6, 7])) == (2, 3)
    assert t.lookup(_arr([30, 40, 50]))[0].tolist() == [True, True, False]
    assert t.add_new(_arr([60, 20]), _arr([8, 9])) == (1, 2)  # the table's own value
    assert t.count == 5


def test_bad_buffers_are_refused() -> None:
    t = HashTable()
    with pytest.raises(ValueError, match="each key needs a value"):
        t.insert(_arr([1, 2]), _arr([1]))
    native = hashset._native
    with pytest.raises(ValueError, match="capacity"):
        native.lookup(t._slots, t._used, t._bits + 1, _arr([1]), np.zeros(1, np.uint8), _arr([0]))
    with pytest.raises(ValueError, match="found_out"):
        native.lookup(t._slots, t._used, t._bits, _arr([1, 2]), np.zeros(1, np.uint8), _arr([0]))
    with pytest.raises(ValueError, match="larger"):
        native.rehash(t._slots, t._used, t._bits, t._slots, t._used, t._bits)
