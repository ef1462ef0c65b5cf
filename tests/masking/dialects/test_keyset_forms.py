"""The expanded OR-form used for SQL Server selects exactly the rows the row-value form does;
checked on SQLite, which understands both."""

from __future__ import annotations

import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from masking.dialects.common import keyset_params, keyset_predicate

KEYS = st.tuples(st.integers(0, 4), st.sampled_from(["a", "b", "c"]), st.integers(-2, 2))


@settings(max_examples=150, deadline=None)
@given(rows=st.sets(KEYS, min_size=1, max_size=40), last=KEYS, width=st.integers(1, 3))
def test_or_form_matches_row_values(rows, last, width):
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (k1, k2, k3)")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    keys = ['"k1"', '"k2"', '"k3"'][:width]
    order = " ORDER BY k1, k2, k3"
    tuple_sql = f"SELECT * FROM t WHERE {keyset_predicate(keys, '?', True)}" + order
    or_sql = f"SELECT * FROM t WHERE {keyset_predicate(keys, '?', False)}" + order
    expected = conn.execute(tuple_sql, keyset_params(last[:width], True)).fetchall()
    got = conn.execute(or_sql, keyset_params(last[:width], False)).fetchall()
    assert got == expected
    assert expected == sorted(r for r in rows if r[:width] > last[:width])
