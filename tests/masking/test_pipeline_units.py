"""Pipeline building blocks without a database: hash set, read-ahead, table ordering."""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masking.extract import ResolvedTable, load_order, prefetch
from masking.plan import ColumnRule, TablePlan
from masking.schema import ColumnInfo, ForeignKey, TableInfo, TypeCategory
from masking.spill import Owners
from masking.validate import _hashes


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(-50, 50), max_size=30), max_size=12))
def test_owner_map_matches_python_dict(chunks: list[list[int]]) -> None:
    seen: dict[int, int] = {}
    owners = Owners()
    for n, chunk in enumerate(chunks):
        h = _hashes(pa.array(chunk, pa.int64()))
        found, prior = owners.lookup(h)
        assert found.tolist() == [v in seen for v in chunk]
        assert [int(p) for p, f in zip(prior, found, strict=True) if f] == [
            seen[v] for v in chunk if v in seen
        ]
        fresh = {v: n + 1 for v in chunk if v not in seen}
        keep = [i for i, v in enumerate(chunk) if v in fresh and chunk.index(v) == i]
        rows = np.ones(len(keep), np.uint64)
        owners.add(h[keep], np.full(len(keep), n + 1, dtype=np.uint64), rows, n + 1)
        seen.update(fresh)


def test_prefetch_yields_everything_in_order() -> None:
    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))


def test_prefetch_raises_the_producer_error() -> None:
    def boom():  # type: ignore[no-untyped-def]
        yield 1
        raise RuntimeError("read failed")

    it = prefetch(boom())
    assert next(it) == 1
    with pytest.raises(RuntimeError):
        next(it)


def test_prefetch_stops_producer_when_consumer_stops() -> None:
    closed = threading.Event()

    def endless():  # type: ignore[no-untyped-def]
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    it = prefetch(endless(), depth=2)
    assert next(it) == 0
    it.close()  # joins the worker, which closes the source generator
    assert closed.is_set()
    assert not any(t.name == "maskflow-extract" for t in threading.enumerate())


def _rt(name: str, parents: tuple[str, ...] = ()) -> ResolvedTable:
    col = ColumnInfo("id", "integer", TypeCategory.NUMERIC)
    fks = tuple(ForeignKey(f"fk_{p}", ("id",), "main", p, ("id",)) for p in parents)
    info = TableInfo("main", name, (col,), ("id",), fks)
    return ResolvedTable(
        TablePlan("", name, "", name, (ColumnRule("id", "id"),)),
        info,
        info,
        (ColumnRule("id", "id"),),
    )


def test_load_order_puts_parents_first_and_survives_cycles() -> None:
    tables = [
        _rt("lines", ("orders", "products")),
        _rt("orders", ("customers", "orders")),
        _rt("products"),
        _rt("customers"),
    ]
    order = [t.label for t in load_order(tables, "main")]
    assert order.index("customers") < order.index("orders") < order.index("lines")
    assert order.index("products") < order.index("lines")
    cyclic = [_rt("a", ("b",)), _rt("b", ("a",))]
    assert sorted(t.label for t in load_order(cyclic, "main")) == ["a", "b"]
