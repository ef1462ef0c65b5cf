"""SQLite: indexes made by CREATE [UNIQUE] INDEX on an empty target are dropped for the load
and built once after it, inside the run's transaction; a UNIQUE constraint's own index, and a
unique index a foreign key relies on, stay."""

from __future__ import annotations

import pyarrow as pa
import pytest

from masking.dialects import get_dialect
from masking.dialects.arrowconv import arrow_schema
from masking.errors import TerminalError

pytestmark = pytest.mark.live

SCHEMA = """
CREATE TABLE parent (k INTEGER PRIMARY KEY, code TEXT);
CREATE UNIQUE INDEX parent_code ON parent (code);
CREATE INDEX parent_code_k ON parent (code, k);
CREATE TABLE child (k INTEGER PRIMARY KEY, parent_code TEXT REFERENCES parent (code));
CREATE TABLE people (k INTEGER PRIMARY KEY, email TEXT, nick TEXT UNIQUE, tag TEXT);
CREATE UNIQUE INDEX people_email ON people (email);
CREATE UNIQUE INDEX people_tagged_nick ON people (lower(nick)) WHERE tag IS NOT NULL;
CREATE INDEX people_tag ON people (tag);
"""
COLS = ["k", "email", "nick", "tag"]


@pytest.fixture
def lite(sqlite_db):  # type: ignore[no-untyped-def]
    d = get_dialect(sqlite_db)
    d.connect().executescript(SCHEMA)
    yield d
    d.close()


def _indexes(d, table):  # type: ignore[no-untyped-def]
    return sorted(
        d.connect()
        .execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,)
        )
        .fetchall()
    )


def _people(t, rows):  # type: ignore[no-untyped-def]
    return pa.RecordBatch.from_pylist(rows, schema=arrow_schema([t.column(c) for c in COLS]))


def test_explicit_indexes_are_built_after_the_load(lite):  # type: ignore[no-untyped-def]
    t = lite.describe_table("main", "people")
    before = _indexes(lite, "people")
    with lite.transaction():
        lite.begin_load(t, COLS)
        during = [name for name, _ in _indexes(lite, "people")]
        for b in range(4):
            lite.write_batch(
                t,
                COLS,
                _people(
                    t,
                    [
                        {
                            "k": b * 50 + i,
                            "email": f"e{b}.{i}@example.org",
                            "nick": f"n{b}.{i}",
                            "tag": "x",
                        }
                        for i in range(50)
                    ],
                ),
            )
        lite.end_load(t, COLS)
        assert _indexes(lite, "people") == before
    # The inline UNIQUE's own index stays; the explicit ones, unique or not, go.
    assert during == ["sqlite_autoindex_people_1"]
    assert _indexes(lite, "people") == before
    assert lite.count_rows(t) == 200


def test_a_duplicate_found_when_building_fails_value_free_and_rolls_back(lite):  # type: ignore[no-untyped-def]
    t = lite.describe_table("main", "people")
    before = _indexes(lite, "people")
    rows = [
        {"k": 1, "email": "same.secret@example.org", "nick": "a", "tag": None},
        {"k": 2, "email": "same.secret@example.org", "nick": "b", "tag": None},
    ]
    with pytest.raises(TerminalError) as err, lite.transaction():
        lite.begin_load(t, COLS)
        try:
            lite.write_batch(t, COLS, _people(t, rows))
            lite.end_load(t, COLS)
        except BaseException:
            lite.abort_load(t, COLS)
            raise
    # The insert accepted the duplicate; re-creating the dropped index refused it.
    assert "unique index 'people_email' cannot be built" in str(err.value)
    assert "secret" not in str(err.value)
    assert _indexes(lite, "people") == before
    assert lite.count_rows(t) == 0


def test_indexes_a_foreign_key_uses_or_of_a_full_table_or_outside_a_transaction_stay(lite):  # type: ignore[no-untyped-def]
    parent, people = (lite.describe_table("main", n) for n in ("parent", "people"))
    assert lite._defer_indexes(people) == []  # no transaction to undo the drop
    with lite.transaction():
        # child.parent_code refers to parent_code; the plain index on (code, k) may go
        assert [name for name, _ in lite._defer_indexes(parent)] == ["parent_code_k"]
    lite.execute("INSERT INTO people VALUES (1, 'old@example.org', 'o', NULL)")
    before = _indexes(lite, "people")
    with lite.transaction():
        assert lite._defer_indexes(people) == []
        assert _indexes(lite, "people") == before
