"""Preflight on the SQLite scenario of test_pipeline.py: a plan that cannot run is refused
with every problem at once, before any row is written."""

from __future__ import annotations

import pytest

from masking import ColumnRule, Plan, PreflightFailed, TablePlan, preflight, run
from tests.masking import test_pipeline
from tests.masking.test_pipeline import (
    SECRET,
    _prefill,
    fetch,
    make_plan,
    schema_of,
    seed,
    snapshot,
)

pair = test_pipeline.pair  # the scenario's SQLite source and target (a fixture)


def test_declared_length_wider_than_the_target_is_refused_before_any_row(pair) -> None:  # type: ignore
    src, tgt = pair
    seed(src)
    seed(tgt, with_data=False, note_len=8)
    before = _prefill(tgt)
    with pytest.raises(PreflightFailed) as err:
        run(make_plan(src, tgt), src, tgt)
    assert [(p.table, p.column, p.rule) for p in err.value.problems] == [
        ("orders", "note", "length")
    ]
    assert snapshot(tgt) == before


def test_fail_if_not_empty_refuses(pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt = pair
    seed(src)
    seed(tgt, with_data=False)
    before = _prefill(tgt)
    with pytest.raises(PreflightFailed) as err:
        run(make_plan(src, tgt, mode="fail_if_not_empty"), src, tgt)
    assert {p.rule for p in err.value.problems} == {"target_not_empty"}
    assert snapshot(tgt) == before


def test_preflight_lists_every_problem_at_once(pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt = pair
    seed(src)
    seed(tgt, with_data=False)
    ss, ts = schema_of(src), schema_of(tgt)
    plan = Plan(
        tables=(
            TablePlan(
                ss,
                "customers",
                ts,
                "customers",
                (
                    ColumnRule("first_name", "first_name", "no_such_technique"),
                    ColumnRule("birth_date", "birth_date", "email"),
                    ColumnRule("nope", "email", "email"),
                    ColumnRule("phone", "phone", "hash", {"length": "long"}),
                    ColumnRule("code", "code", "hash", {"length": 12}),
                    ColumnRule("id", "id", "keep"),
                ),
            ),
            TablePlan(
                ss,
                "orders",
                ts,
                "orders",
                (
                    ColumnRule("id", "id", "keep"),
                    ColumnRule("customer_id", "customer_id", "keep"),
                    ColumnRule("amount", "amount", "keep"),
                    ColumnRule("customer_code", "customer_code", "keep"),
                ),
            ),
            TablePlan(ss, "missing", ts, "missing", (ColumnRule("a", "a"),)),
        ),
        secret=SECRET,
    )
    problems = preflight(plan, src, tgt)
    found = {(p.table.split(".")[-1], p.column, p.rule) for p in problems}
    assert ("customers", "first_name", "technique") in found
    assert ("customers", "birth_date", "category") in found
    assert ("customers", "nope", "source_column") in found
    assert ("customers", "phone", "params.length") in found
    assert ("customers", "first_name", "not_null") not in found
    assert ("orders", "customer_code", "foreign_key") in found
    assert ("missing", "", "source_table") in found and ("missing", "", "target_table") in found
    for p in problems:
        assert "@" not in p.message
    with pytest.raises(PreflightFailed) as err:
        run(plan, src, tgt)
    assert len(err.value.problems) == len(problems)
    assert fetch(tgt, "SELECT COUNT(*) FROM customers") == [(0,)]
