"""masking.preview never shows a source value of a column PII discovery marks as personal data:
not as the source, not as the output of `keep`, not even partially."""

from __future__ import annotations

import json
import sqlite3

import pytest

import masking
from masking import ColumnRule, Plan, TablePlan
from masking.dialects.base import ConnectionParams
from masking.samples import WITHHELD, partial

PEOPLE = [
    (1, "ada.lovelace@example.com", "Ada", "416-555-0134", "gold"),
    (2, "grace.hopper@example.org", "Grace", "514-555-0199", "silver"),
    (3, "alan.turing@example.net", "Alan", "613-555-0123", "gold"),
]


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "src.sqlite3"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE people (id INTEGER PRIMARY KEY, email VARCHAR(80), first_name VARCHAR(40),"
        " phone VARCHAR(20), tier VARCHAR(10))"
    )
    db.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?)", PEOPLE)
    db.commit()
    db.close()
    with masking.connect(ConnectionParams(dialect="sqlite", database=str(path))) as dialect:
        yield dialect


def _preview(source, *rules: ColumnRule) -> dict:
    table = TablePlan("main", "people", "main", "people", rules)
    return masking.preview(Plan(tables=(table,), secret=b"k" * 32), source, table, rows=3)


def test_personal_columns_are_withheld_even_when_kept(source):
    data = _preview(
        source,
        ColumnRule("email", "email", "email"),
        ColumnRule("first_name", "first_name", "keep"),
        ColumnRule("phone", "phone", "keep"),
        ColumnRule("tier", "tier", "keep"),
    )
    assert {"email", "first_name", "phone"} <= set(data["personal"])
    assert "tier" not in data["personal"]
    text = json.dumps(data, ensure_ascii=False)
    for _, email, first, phone, _ in PEOPLE:
        for value in (email, first, phone, partial(email), partial(first), partial(phone)):
            assert value not in text
    by_column = dict(zip(data["columns"], zip(*data["rows"], strict=True), strict=True))
    assert all(c["source"] == WITHHELD for c in by_column["email"])
    assert all("@" in c["masked"] for c in by_column["email"])  # masked output is shown
    assert all(c["source"] == c["masked"] == WITHHELD for c in by_column["first_name"])
    # a column with no personal data shows a partial value, enough to recognise the row
    assert [c["source"] for c in by_column["tier"]] == ["g•••", "s••••r", "g•••"]


def test_unknown_column_is_a_clear_error(source):
    with pytest.raises(masking.TerminalError, match="column 'nope' not found"):
        _preview(source, ColumnRule("nope", "nope", "keep"))
