"""Plan data: JSON round trip without the secret, stable hash, validation; error scrubbing."""

from __future__ import annotations

import json
import sqlite3

import pytest

from masking import ColumnRule, Plan, TablePlan, plan_hash
from masking.errors import TerminalError, TransientError, ValidationFailed
from masking.load import wrap_error
from masking.progress import NullProgress, Progress, Throttle


def _plan(**kw) -> Plan:  # type: ignore[no-untyped-def]
    base = dict(
        tables=(
            TablePlan(
                "public",
                "customers",
                "public",
                "customers",
                (
                    ColumnRule("email", "email", "email", {"keep_domain": True}),
                    ColumnRule("id", "id"),
                ),
                row_filter="id < 10",
                copy_unmapped=True,
            ),
        ),
        secret=b"top-secret-key",
        seed=5,
        locale="en_CA",
        target_mode="append",
        batch_size=500,
        key_version="v2",
    )
    base.update(kw)
    return Plan(**base)


def test_round_trip_excludes_secret() -> None:
    plan = _plan()
    data = plan.to_dict()
    text = json.dumps(data)
    assert "top-secret-key" not in text and "secret" not in data
    assert "top-secret-key" not in repr(plan)
    again = Plan.from_dict(json.loads(text), secret=b"top-secret-key")
    assert again == plan


def test_hash_is_stable_and_sensitive() -> None:
    assert plan_hash(_plan()) == plan_hash(_plan())
    assert plan_hash(_plan()) == plan_hash(_plan(secret=b"another"))  # the secret is not hashed
    assert plan_hash(_plan()) != plan_hash(_plan(seed=6))
    assert len(plan_hash(_plan())) == 64


def test_invalid_plan_values_rejected() -> None:
    with pytest.raises(ValueError):
        _plan(target_mode="merge")
    with pytest.raises(ValueError):
        _plan(batch_size=0)


def test_rule_defaults() -> None:
    rule = ColumnRule.from_dict({"source_column": "a"})
    assert (rule.target_column, rule.technique, rule.masked) == ("a", "keep", False)


def test_wrap_error_classifies() -> None:
    locked = sqlite3.OperationalError("database is locked")
    assert isinstance(wrap_error(locked, table="t", stage="write"), TransientError)
    bad = sqlite3.IntegrityError("CHECK constraint failed: 'secret 12345'")
    err = wrap_error(bad, table="t", stage="write", column="c")
    assert isinstance(err, TerminalError) and not isinstance(err, TransientError)
    assert "t" in str(err) and "secret" not in str(err) and "12345" not in str(err)
    same = ValidationFailed("t", "c", "row #1 (batch 1)", "not_null")
    assert wrap_error(same, table="x", stage="y") is same


def test_progress_protocol_and_throttle() -> None:
    assert isinstance(NullProgress(), Progress)
    assert NullProgress().should_cancel() is False
    throttle = Throttle(60.0)
    assert throttle.ready() and not throttle.ready() and throttle.ready(force=True)
