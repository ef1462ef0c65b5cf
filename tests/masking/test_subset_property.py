"""Property: on random data over three tables with a cycle, a self-reference and optional
foreign keys, the closure the database computes equals the plain-Python reading of the rules
(tests/masking/subset_oracle.py), for any root, sample and children policy; and it ends."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from masking import Plan, TablePlan
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams
from masking.subset import Relationship, Subset, SubsetRoot
from masking.subset.engine import SubsetClosure
from tests.masking.subset_oracle import expected

DDL = """
CREATE TABLE a (id INTEGER PRIMARY KEY, up INTEGER REFERENCES a (id), b_id INTEGER REFERENCES b (id));
CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a (id));
CREATE TABLE c (x INTEGER, y INTEGER, a_id INTEGER NOT NULL REFERENCES a (id),
                b_id INTEGER REFERENCES b (id), PRIMARY KEY (x, y));
"""  # noqa: E501
TABLES = ["a", "b", "c"]
RELS = [("a", ("up",)), ("a", ("b_id",)), ("b", ("a_id",)), ("c", ("a_id",)), ("c", ("b_id",))]


@st.composite
def databases(draw):  # type: ignore[no-untyped-def]
    na, nb, nc = draw(st.integers(1, 12)), draw(st.integers(1, 12)), draw(st.integers(0, 15))
    ref = lambda n: st.one_of(st.none(), st.integers(1, n))  # noqa: E731
    a = [(i, draw(ref(na)), draw(ref(nb))) for i in range(1, na + 1)]
    b = [(i, draw(ref(na))) for i in range(1, nb + 1)]
    c = [(i % 4, i, draw(st.integers(1, na)), draw(ref(nb))) for i in range(nc)]
    root = draw(st.sampled_from(TABLES))
    size = draw(
        st.one_of(
            st.floats(1, 100).map(lambda p: {"percent": p}),
            st.integers(0, 6).map(lambda r: {"rows": r}),
        )
    )
    none = draw(st.lists(st.sampled_from(RELS), unique=True, max_size=3))
    default = draw(st.sampled_from(["all", "none"]))
    return a, b, c, root, size, none, default


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(databases())
def test_closure_matches_the_rules(case) -> None:  # type: ignore[no-untyped-def]
    a, b, c, root, size, none, default = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.db"
        with sqlite3.connect(path) as db:
            db.executescript(DDL)
            db.executemany("INSERT INTO a VALUES (?, ?, ?)", a)
            db.executemany("INSERT INTO b VALUES (?, ?)", b)
            db.executemany("INSERT INTO c VALUES (?, ?, ?, ?)", c)
        subset = Subset(
            roots=(SubsetRoot("", root, **size),),
            relationships=tuple(Relationship("", t, cols, "none") for t, cols in none),
            children=default,
        )
        secret = b"p" * 32
        plan = Plan(
            tables=tuple(TablePlan("", t, "", t, (), None, True) for t in TABLES),
            secret=secret,
            subset=subset,
        )
        with get_dialect(ConnectionParams("sqlite", database=str(path))) as src:
            infos = {t: src.describe_table("main", t) for t in TABLES}
            closure = SubsetClosure(
                subset, src, [(t, plan.tables[i], infos[t]) for i, t in enumerate(TABLES)], secret
            )
            assert not closure.problems
            with closure.computed():
                got = {
                    n.label: {tuple(r) for r in src.connect().execute(f"SELECT * FROM {n.kept}")}
                    for n in closure.members
                }
                counts = {x.table: x.kept for x in closure.counts()}
            want = expected(src, "main", TABLES, subset, secret)
    assert got == {t: want[t] for t in got}
    assert counts == {t: len(want[t]) if t in got else counts[t] for t in TABLES}
    # Every kept row's parents are kept: no orphan can reach the target.
    rows = {"a": {r[0]: r for r in a}, "b": {r[0]: r for r in b}}
    for key in want["a"]:
        up, b_id = rows["a"][key[0]][1:]
        assert up is None or (up,) in want["a"]
        assert b_id is None or (b_id,) in want["b"]
