"""Planning work units: split points, key-range predicates, dependency levels; and a whole
staged run on SQLite files."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from masking.checks import check
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams
from masking.errors import Cancelled
from masking.extract import extract_batches, load_order
from masking.plan import ColumnRule, Plan, TablePlan
from masking.staged import run_staged
from masking.units import Unit, dependency_levels, for_unit, plan_units, unit_filter


def _db(path, ddl, rows):
    conn = sqlite3.connect(path)
    conn.executescript(ddl)
    for table, values in rows.items():
        if values:
            marks = ", ".join("?" * len(values[0]))
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", values)
    conn.commit()
    conn.close()
    return get_dialect(ConnectionParams(dialect="sqlite", database=str(path)))


DDL = """
CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE child (code TEXT PRIMARY KEY, parent_id INTEGER REFERENCES parent (id), v TEXT);
"""


def _plan(row_filter=None, **kw):
    return Plan(
        tables=(
            TablePlan("main", "child", "main", "child", copy_unmapped=True, row_filter=row_filter),
            TablePlan(
                "main",
                "parent",
                "main",
                "parent",
                (ColumnRule("name", "name", "first_name"),),
                copy_unmapped=True,
            ),
        ),
        secret=b"units-test",
        key_version="k1",
        batch_size=50,
        **kw,
    )


def _rows(ids, codes):
    return {
        "parent": [(i, f"Person {i}") for i in ids],
        "child": [(c, ids[n % len(ids)] if ids else None, f"v{n}") for n, c in enumerate(codes)],
    }


def _read_keys(src, rt, unit):
    out = []
    for batch in extract_batches(src, for_unit(src, rt, unit), 37):
        out.extend(batch.column(rt.source_columns.index(rt.source.primary_key[0])).to_pylist())
    return out


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ids=st.lists(st.integers(-10_000, 10_000), unique=True, max_size=300),
    codes=st.lists(st.text("abcxyz09", min_size=1, max_size=6), unique=True, max_size=200),
    unit_rows=st.integers(1, 120),
)
def test_units_partition_every_table(tmp_path_factory, ids, codes, unit_rows):
    path = tmp_path_factory.mktemp("u") / "s.db"
    src = _db(path, DDL, _rows(ids, codes))
    order, problems = check(_plan(), src, src).split()
    assert problems == []
    units, totals = plan_units(src, order, "main", unit_rows)
    assert totals == {"main.parent": len(ids), "main.child": len(codes)} or totals == {
        "parent": len(ids),
        "child": len(codes),
    }
    for rt in order:
        mine = [u for u in units if u.table == rt.label]
        seen = [k for u in mine for k in _read_keys(src, rt, u)]
        expected = ids if "parent" in rt.label else codes
        assert sorted(seen) == sorted(expected)  # every row once, none twice
        if len(expected) > unit_rows and "parent" in rt.label:
            assert len(mine) >= 2
    assert [u.index for u in units] == list(range(len(units)))
    src.close()


def test_filter_keeps_row_filter_and_quotes_bounds(tmp_path):
    src = _db(tmp_path / "s.db", DDL, _rows([1, 2, 3], ["a'b", "c"]))
    order, _ = check(_plan(row_filter="v <> 'v1'"), src, src).split()
    child = next(rt for rt in order if "child" in rt.label)
    text = unit_filter(src, child, Unit(child.label, 0, 1, "a'b", "c"))
    assert text == "(v <> 'v1') AND \"code\" >= 'a''b' AND \"code\" < 'c'"
    assert _read_keys(src, child, Unit(child.label, 0, 1, "a'b", "c")) == ["a'b"]
    assert unit_filter(src, child, Unit(child.label, 0, 1)) == "(v <> 'v1')"


def test_levels_put_parents_first(tmp_path):
    src = _db(tmp_path / "s.db", DDL, _rows([1], ["a"]))
    resolved, _ = check(_plan(), src, src).split()
    order = load_order(resolved, "main")
    levels = dependency_levels(order, "main")
    assert sorted(levels.values()) == [0, 1]
    assert levels[next(rt.label for rt in order if "parent" in rt.label)] == 0
    with pytest.raises(ValueError):
        plan_units(src, order, "main", 0)


def _staged_pair(tmp_path, ids, codes):
    src = _db(tmp_path / "s.db", DDL, _rows(ids, codes))
    tgt = _db(tmp_path / "t.db", DDL, {})
    return src, tgt


def _dump(db):
    conn = db.connect()
    return {
        t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in ("parent", "child")
    }


def _tables(db):
    return sorted(r[0] for r in db.connect().execute("SELECT name FROM sqlite_master"))


def test_staged_run_on_sqlite_equals_the_pipeline(tmp_path):
    from masking.pipeline import run

    ids, codes = list(range(1, 400)), [f"c{n:04d}" for n in range(500)]
    src, tgt = _staged_pair(tmp_path, ids, codes)
    result = run_staged(_plan(), src, tgt, "t1", unit_rows=60)
    staged = _dump(tgt)
    assert len(staged["parent"]) == 399 and len(staged["child"]) == 500
    assert staged["parent"][0][1] != "Person 1"
    assert 0 < result.lock_seconds <= result.duration
    assert not [t for t in _tables(tgt) if t.startswith("mf_stage_")]
    other = _db(tmp_path / "o.db", DDL, {})
    run(_plan(), src, other)
    assert _dump(other) == staged


def test_cancel_on_sqlite_drops_staging(tmp_path):
    class Stop:
        def update(self, update):
            pass

        def should_cancel(self):
            return True

    src, tgt = _staged_pair(tmp_path, [1, 2], ["a"])
    before = _tables(tgt)
    with pytest.raises(Cancelled):
        run_staged(_plan(), src, tgt, "t2", unit_rows=1, progress=Stop())
    assert _tables(tgt) == before
    with pytest.raises(ValueError):
        run_staged(_plan(), src, tgt, "Bad-Id")
