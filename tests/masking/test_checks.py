"""`masking.check`, the one validator of tables, columns, rules and keys: tables still to be
created, checks that need rows, keys masked at random, and foreign keys on either side."""

from __future__ import annotations

import sqlite3

import pytest

from masking import check, preflight
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams
from masking.plan import ColumnRule, Plan, TablePlan

PEOPLE = """
CREATE TABLE people (id INTEGER PRIMARY KEY, email VARCHAR(80) UNIQUE, note VARCHAR(200),
                     city VARCHAR(40));
CREATE TABLE visits (id INTEGER PRIMARY KEY, person_id INTEGER REFERENCES people (id),
                     at VARCHAR(30));
"""
# The same tables without the foreign key: only the source knows the join.
PEOPLE_NO_FK = PEOPLE.replace(" REFERENCES people (id)", "")


def _db(path, ddl: str, rows: int = 0):  # type: ignore[no-untyped-def]
    conn = sqlite3.connect(path)
    conn.executescript(ddl)
    if rows:
        conn.executemany(
            "INSERT INTO people VALUES (?, ?, ?, ?)",
            [(i, f"p{i}@x.test", "n", "c") for i in range(1, rows + 1)],
        )
    conn.commit()
    conn.close()
    return get_dialect(ConnectionParams(dialect="sqlite", database=str(path)))


@pytest.fixture
def dbs(tmp_path):  # type: ignore[no-untyped-def]
    opened = []

    def make(source_ddl: str = PEOPLE, target_ddl: str | None = PEOPLE, target_rows: int = 0):
        src = _db(tmp_path / "src.db", source_ddl, rows=3)
        tgt = _db(tmp_path / "tgt.db", target_ddl or "CREATE TABLE other (x INTEGER);", target_rows)
        opened.extend((src, tgt))
        return src, tgt

    yield make
    for d in opened:
        d.close()


def _plan(*tables: TablePlan, mode: str = "truncate") -> Plan:
    return Plan(tables=tables, secret=b"k" * 32, target_mode=mode)


def _people(*rules: ColumnRule, copy: bool = True) -> TablePlan:
    return TablePlan("", "people", "", "people", rules, copy_unmapped=copy)


def _visits(*rules: ColumnRule) -> TablePlan:
    return TablePlan("", "visits", "", "visits", rules, copy_unmapped=True)


def _found(problems) -> set[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return {(p.table, p.column, p.rule) for p in problems}


def test_a_table_still_to_be_created_is_checked_against_its_source(dbs) -> None:  # type: ignore[no-untyped-def]
    src, tgt = dbs(target_ddl=None)
    plan = _plan(_people(ColumnRule("email", "email", "email"), ColumnRule("ghost", "ghost")))
    assert ("people", "", "target_table") in _found(preflight(plan, src, tgt))
    checked = check(plan, src, tgt, create=[("", "people")])
    assert _found(checked.problems) == {
        ("people", "ghost", "source_column"),
        ("people", "ghost", "target_column"),
    }
    assert checked.existing == [] and checked.source_of("people") is not None


def test_a_table_asked_to_be_created_that_exists_is_named_and_checked_as_it_is(dbs) -> None:  # type: ignore[no-untyped-def]
    src, tgt = dbs(target_ddl=PEOPLE.replace("city VARCHAR(40)", "town VARCHAR(40) NOT NULL"))
    checked = check(_plan(_people()), src, tgt, create=[("", "people")])
    assert checked.existing == ["people"]
    assert _found(checked.problems) == {("people", "town", "not_null")}


def test_what_depends_on_the_rows_is_left_out_when_asked(dbs) -> None:  # type: ignore[no-untyped-def]
    src, tgt = dbs(target_rows=2)
    plan = _plan(_people(), mode="fail_if_not_empty")
    assert ("people", "", "target_not_empty") in _found(check(plan, src, tgt).problems)
    assert check(plan, src, tgt, data=False).problems == []


def test_a_key_masked_at_random_is_refused_and_a_plain_column_is_not(dbs) -> None:  # type: ignore[no-untyped-def]
    src, tgt = dbs()
    random_email = ColumnRule("email", "email", "email", deterministic=False)
    random_city = ColumnRule("city", "city", "city", deterministic=False)
    found = _found(preflight(_plan(_people(random_email, random_city)), src, tgt))
    assert found == {("people", "email", "deterministic")}


def test_every_bad_parameter_is_named(dbs) -> None:  # type: ignore[no-untyped-def]
    src, tgt = dbs()
    rule = ColumnRule("note", "note", "hash", {"length": "long", "bogus": 1})
    rules = {p.rule for p in preflight(_plan(_people(rule)), src, tgt)}
    assert {"params.length", "params.bogus"} <= rules


def test_a_copy_into_a_narrower_declared_column_is_refused(dbs) -> None:  # type: ignore[no-untyped-def]
    src, tgt = dbs(target_ddl=PEOPLE.replace("note VARCHAR(200)", "note VARCHAR(20)"))
    assert _found(preflight(_plan(_people()), src, tgt)) == {("people", "note", "length")}


@pytest.mark.parametrize("target_ddl", [PEOPLE, PEOPLE_NO_FK], ids=["target-fk", "source-fk-only"])
def test_a_foreign_key_masked_unlike_its_key_is_refused_on_either_side(dbs, target_ddl) -> None:  # type: ignore[no-untyped-def]
    src, tgt = dbs(source_ddl=PEOPLE, target_ddl=target_ddl)
    key = ColumnRule("id", "id", "hash_number")
    plan = _plan(_people(key), _visits(ColumnRule("person_id", "person_id")))
    problems = [p for p in preflight(plan, src, tgt) if p.rule == "foreign_key"]
    assert [(p.table, p.column) for p in problems] == [("visits", "person_id")]
    same = _plan(_people(key), _visits(ColumnRule("person_id", "person_id", "hash_number")))
    assert [p for p in preflight(same, src, tgt) if p.rule == "foreign_key"] == []


def test_a_masked_foreign_key_whose_parent_is_not_copied_is_refused(dbs) -> None:  # type: ignore[no-untyped-def]
    src, tgt = dbs()
    masked = _plan(_visits(ColumnRule("person_id", "person_id", "hash_number")))
    problems = [p for p in preflight(masked, src, tgt) if p.rule == "foreign_key"]
    assert len(problems) == 1 and "not in the plan" in problems[0].message
    kept = _plan(_visits(ColumnRule("person_id", "person_id")))
    assert [p for p in preflight(kept, src, tgt) if p.rule == "foreign_key"] == []
