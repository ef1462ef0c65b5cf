"""SortedHashes: the run-wide hash sets behind unique outputs and unique validation."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from masking.techniques import ColumnSpec, MaskContext, TypeCategory, make_masker
from masking.techniques.hashset import SortedHashes
from masking.techniques.pools import DATA, _pool, pool

_KEYS = st.integers(0, 2**64 - 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(_KEYS, _KEYS, max_size=40), max_size=25))
def test_lookup_finds_every_key_with_its_owner(batches: list[dict[int, int]]) -> None:
    s = SortedHashes(payload=True)
    ref: dict[int, int] = {}
    for batch in batches:
        fresh = {k: v for k, v in batch.items() if k not in ref}
        s.insert(np.array(list(fresh), np.uint64), np.array(list(fresh.values()), np.uint64))
        ref.update(fresh)
        probe = list(ref) + list(batch)
        found, owner = s.lookup(np.array(probe, np.uint64))
        assert found.tolist() == [k in ref for k in probe]
        assert owner.tolist() == [ref.get(k, 0) for k in probe]
    assert s.count == len(ref)


def test_merges_into_main_keep_owners_and_order() -> None:
    rng = np.random.default_rng(7)
    s = SortedHashes(payload=True)
    keys = np.unique(rng.integers(0, 2**64 - 1, 60_000, dtype=np.uint64))
    rng.shuffle(keys)
    for part in np.array_split(keys, 40):  # enough batches to merge runs into the main run
        s.insert(part, part ^ np.uint64(0xABCDEF))
    main = s.runs()[0][0]
    assert len(main) > len(keys) // 2
    assert (np.diff(main.astype(np.float64)) >= 0).all()
    found, owner = s.lookup(keys)
    assert found.all()
    assert (owner == (keys ^ np.uint64(0xABCDEF))).all()
    absent = np.setdiff1d(rng.integers(0, 2**64 - 1, 1000, dtype=np.uint64), keys)
    assert not s.lookup(absent)[0].any()


def test_merge_transient_memory_stays_small() -> None:
    import tracemalloc

    rng = np.random.default_rng(1)
    s = SortedHashes(payload=True)
    tracemalloc.start()
    try:
        for _ in range(60):
            k = rng.integers(0, 2**63, 5000, dtype=np.uint64)
            s.insert(k, k)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * s.nbytes


def test_unique_email_stays_consistent_across_batches() -> None:
    col = ColumnSpec(TypeCategory.STRING, max_length=120, unique=True, name="email")
    m = make_masker("email", {}, MaskContext(secret=b"k", column=col))
    values = [f"user{i}@example.org" for i in range(3000)]
    first = m(pa.array(values)).to_pylist()
    again = m(pa.array(values[::-1])).to_pylist()[::-1]
    assert first == again
    assert len(set(first)) == len(first)


def test_name_pools_are_versioned_data_distinct_and_nonempty() -> None:
    for locale in ("en_US", "en_CA", "fr_CA", "en_GB", "de_DE"):
        for kind in ("first_name", "last_name", "city", "street_address", "company"):
            p = pool(kind, locale)
            assert p
            assert len(set(p)) == len(p)
            assert all(v == v.strip() and v for v in p)
            assert p == _pool.__wrapped__(kind, locale)  # read again, not cached
            path = DATA / locale / f"{kind}.txt"
            assert tuple(path.read_text(encoding="utf-8").splitlines()) == p
