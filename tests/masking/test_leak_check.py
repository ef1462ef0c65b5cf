"""The leak check counts unchanged values of every masked column whose PII type is
identity-bearing, whatever the technique; the workflow decides whether a column over the
allowed share fails the run or is flagged. Free-text redaction replaces the row's own names
where its name columns are masked."""

from __future__ import annotations

import sqlite3

import pytest

from masking import ColumnRule, Plan, TablePlan, ValidationFailed, run
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams

ROWS = 300
DDL = (
    "CREATE TABLE people (id INTEGER PRIMARY KEY, first_name VARCHAR(40), "
    "last_name VARCHAR(40), ssn VARCHAR(11), notes VARCHAR(200), city VARCHAR(40))"
)


def ssn(i: int) -> str:
    return f"{100 + i % 600:03d}-{10 + i % 89:02d}-{1000 + i:04d}"


def source_rows() -> list[tuple]:
    return [
        (i, f"Zebulon{i}", f"Quixote{i}", ssn(i), f"secret note for Zebulon{i}", "Montreal")
        for i in range(1, ROWS + 1)
    ]


@pytest.fixture
def pair(tmp_path):
    dbs = []
    for name, rows in (("src", source_rows()), ("tgt", [])):
        path = tmp_path / f"{name}.db"
        db = sqlite3.connect(path)
        db.execute(DDL)
        db.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.commit()
        db.close()
        dbs.append(get_dialect(ConnectionParams("sqlite", database=str(path))))
    yield dbs
    for d in dbs:
        d.close()


def plan(*rules: ColumnRule, share: float = 0.0, action: str = "fail") -> Plan:
    return Plan(
        tables=(TablePlan("main", "people", "main", "people", rules, copy_unmapped=True),),
        secret=b"k" * 32,
        leak_max_share=share,
        leak_action=action,
    )


def target(tgt, column: str) -> list:
    return [r[0] for r in tgt.connect().execute(f"SELECT {column} FROM people ORDER BY id")]


NOTHING_MATCHES = ColumnRule("ssn", "ssn", "regex_replace", {"pattern": "^X$", "replacement": "*"})


def test_a_regex_that_matches_nothing_fails_the_run(pair):
    src, tgt = pair
    with pytest.raises(ValidationFailed) as caught:
        run(plan(NOTHING_MATCHES), src, tgt)
    assert caught.value.rule == "leak_check" and caught.value.column == "ssn"
    assert target(tgt, "ssn") == []  # rolled back


def test_flag_mode_keeps_the_run_and_reports_the_column_in_red(pair):
    src, tgt = pair
    result = run(plan(NOTHING_MATCHES, action="flag"), src, tgt)
    check = next(c for c in result.leak_report if c.column == "ssn")
    assert (check.ok, check.pii_type, check.equal, check.share) == (
        False,
        "ssn",
        check.sampled,
        1.0,
    )
    assert check.sampled == ROWS
    assert target(tgt, "ssn") == [r[3] for r in source_rows()]


def test_a_share_within_the_allowed_one_passes(pair):
    src, tgt = pair
    some = ColumnRule("ssn", "ssn", "regex_replace", {"pattern": r"^1\d\d-", "replacement": "9xx-"})
    loose = run(plan(some, share=0.8), src, tgt)
    check = next(c for c in loose.leak_report if c.column == "ssn")
    assert check.ok and 0 < check.share <= 0.8
    with pytest.raises(ValidationFailed):
        run(plan(some, share=0.0), src, tgt)


def test_a_regex_that_masks_every_value_passes(pair):
    src, tgt = pair
    digits = ColumnRule("ssn", "ssn", "regex_replace", {"pattern": r"\d", "replacement": "#"})
    result = run(plan(digits), src, tgt)
    check = next(c for c in result.leak_report if c.column == "ssn")
    assert check.ok and check.equal == 0 and check.pii_type == "ssn"


def test_columns_with_no_identity_bearing_type_do_not_count(pair):
    src, tgt = pair
    city = ColumnRule("city", "city", "regex_replace", {"pattern": "^X$", "replacement": "*"})
    result = run(plan(city), src, tgt)
    check = next(c for c in result.leak_report if c.column == "city")
    assert check.ok and check.pii_type == "" and check.identity_hiding is False


def test_free_text_loses_the_rows_names_when_name_columns_are_masked(pair):
    src, tgt = pair
    rules = (
        ColumnRule("first_name", "first_name", "first_name"),
        ColumnRule("last_name", "last_name", "last_name"),
        ColumnRule("notes", "notes", "free_text_redact"),
    )
    result = run(plan(*rules), src, tgt)
    notes, firsts = target(tgt, "notes"), target(tgt, "first_name")
    assert not [n for n in notes if "Zebulon" in n]
    assert all(n == f"secret note for {f}" for n, f in zip(notes, firsts, strict=True))
    check = next(c for c in result.leak_report if c.column == "notes")
    assert check.ok and check.equal == 0 and check.pii_type == "free_text_pii"


def test_free_text_left_unchanged_with_the_rows_names_in_it_is_a_leak(pair):
    """Names masked, but the notes column copied by a redaction that finds nothing: counted."""
    src, tgt = pair
    rules = (
        ColumnRule("first_name", "first_name", "first_name"),
        ColumnRule("notes", "notes", "regex_replace", {"pattern": "^X$", "replacement": "*"}),
    )
    result = run(plan(*rules, action="flag"), src, tgt)
    check = next(c for c in result.leak_report if c.column == "notes")
    assert not check.ok and check.share == 1.0


def test_tag_mode_writes_a_name_tag(pair):
    src, tgt = pair
    rules = (
        ColumnRule("first_name", "first_name", "first_name"),
        ColumnRule("notes", "notes", "free_text_redact", {"mode": "tag"}),
    )
    run(plan(*rules), src, tgt)
    assert set(target(tgt, "notes")) == {"secret note for [NAME]"}


def test_the_leak_policy_is_part_of_the_plan_snapshot():
    p = plan(NOTHING_MATCHES, share=0.25, action="flag")
    again = Plan.from_dict(p.to_dict(), secret=b"k" * 32)
    assert (again.leak_max_share, again.leak_action) == (0.25, "flag")
    with pytest.raises(ValueError):
        plan(NOTHING_MATCHES, action="ignore")
    with pytest.raises(ValueError):
        plan(NOTHING_MATCHES, share=1.5)
