"""Consistency inside a run, SQLite → SQLite: collisions fail without a value, entity-keyed
date shifts keep intervals, and a plan's consistency groups are what the wizard shows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from masking import ColumnRule, Plan, PreflightFailed, TablePlan, ValidationFailed, run
from masking.consistency import groups
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams, Dialect
from masking.extract import ResolvedTable, effective_rules
from tests.masking.test_pipeline import execute, fetch

SECRET = b"pipeline-consistency-key-012345"


@pytest.fixture
def dbs(tmp_path) -> Iterator[tuple[Dialect, Dialect]]:  # type: ignore[no-untyped-def]
    src = get_dialect(
        ConnectionParams("sqlite", database=str(tmp_path / "s.db"), options={"create": True})
    )
    tgt = get_dialect(
        ConnectionParams("sqlite", database=str(tmp_path / "t.db"), options={"create": True})
    )
    yield src, tgt
    src.close()
    tgt.close()


def _both(src: Dialect, tgt: Dialect, *statements: str) -> None:
    for d in (src, tgt):
        for stmt in statements:
            execute(d, stmt)
        d.connect().commit()


def _plan(*tables: TablePlan) -> Plan:
    return Plan(tables=tables, secret=SECRET, batch_size=500)


def test_a_collision_in_a_unique_column_fails_without_a_value(dbs) -> None:  # type: ignore[no-untyped-def]
    src, tgt = dbs
    _both(src, tgt, "CREATE TABLE t (id INTEGER PRIMARY KEY, code VARCHAR(4) NOT NULL UNIQUE)")
    codes = [(i, f"k{i:03d}") for i in range(1, 3001)]
    execute(src, "INSERT INTO t VALUES (?, ?)", codes)
    src.connect().commit()
    rule = ColumnRule("code", "code", "hash", {"length": 4})  # 65,536 outputs: collisions certain
    with pytest.raises(ValidationFailed) as exc:
        run(_plan(TablePlan("", "t", "", "t", (rule,), copy_unmapped=True)), src, tgt)
    message = str(exc.value)
    assert "technique 'hash' gave two different source values the same output" in message
    assert "t" in message and "code" in message and "unique" in message
    assert not any(code in message for _, code in codes)
    assert fetch(tgt, "SELECT COUNT(*) FROM t")[0][0] == 0  # rolled back


def test_a_repeated_source_value_is_told_apart_from_a_collision(dbs) -> None:  # type: ignore[no-untyped-def]
    src, tgt = dbs
    execute(src, "CREATE TABLE t (id INTEGER PRIMARY KEY, email VARCHAR(80))")
    execute(tgt, "CREATE TABLE t (id INTEGER PRIMARY KEY, email VARCHAR(80) UNIQUE)")
    execute(src, "INSERT INTO t VALUES (?, ?)", [(1, "a@x.org"), (2, "b@x.org"), (3, "a@x.org")])
    src.connect().commit()
    tgt.connect().commit()
    rule = ColumnRule("email", "email", "email")
    with pytest.raises(ValidationFailed, match="the source repeats it") as exc:
        run(_plan(TablePlan("", "t", "", "t", (rule,), copy_unmapped=True)), src, tgt)
    assert "a@x.org" not in str(exc.value) and "row #3" in str(exc.value)


def test_entity_keyed_shifts_move_all_dates_of_a_customer_alike(dbs) -> None:  # type: ignore[no-untyped-def]
    src, tgt = dbs
    _both(
        src,
        tgt,
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, birth_date DATE, signed_up TIMESTAMP)",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL "
        "REFERENCES customers (id), placed_at TIMESTAMP)",
    )
    base = dt.datetime(2020, 1, 1, 9, 30)
    customers = [
        (
            i,
            (dt.date(1960, 1, 1) + dt.timedelta(days=97 * i)).isoformat(),
            (base + dt.timedelta(days=i, hours=i)).isoformat(sep=" "),
        )
        for i in range(1, 301)
    ]
    orders = [
        (i, 1 + i % 300, (base + dt.timedelta(days=i % 700, minutes=i)).isoformat(sep=" "))
        for i in range(1, 2001)
    ]
    execute(src, "INSERT INTO customers VALUES (?, ?, ?)", customers)
    execute(src, "INSERT INTO orders VALUES (?, ?, ?)", orders)
    src.connect().commit()
    shift = {"min_days": -200, "max_days": 200}
    plan = _plan(
        TablePlan(
            "",
            "customers",
            "",
            "customers",
            (
                ColumnRule("id", "id"),
                ColumnRule(
                    "birth_date", "birth_date", "date_shift", {**shift, "entity_column": "id"}
                ),
                ColumnRule(
                    "signed_up", "signed_up", "datetime_shift", {**shift, "entity_column": "id"}
                ),
            ),
        ),
        # the entity key is read for the shift, not mapped, and the copy keeps the column
        TablePlan(
            "",
            "orders",
            "",
            "orders",
            (
                ColumnRule("id", "id"),
                ColumnRule("customer_id", "customer_id"),
                ColumnRule(
                    "placed_at",
                    "placed_at",
                    "datetime_shift",
                    {**shift, "entity_column": "customer_id"},
                ),
            ),
        ),
    )
    run(plan, src, tgt)

    def days(a: str, b: str) -> float:
        return (dt.datetime.fromisoformat(b) - dt.datetime.fromisoformat(a)).total_seconds() / 86400

    before = {r[0]: r for r in fetch(src, "SELECT id, birth_date, signed_up FROM customers")}
    after = {r[0]: r for r in fetch(tgt, "SELECT id, birth_date, signed_up FROM customers")}
    offset = {}
    for cid, row in after.items():
        birth = days(before[cid][1], row[1])
        assert birth == days(before[cid][2], row[2]) != 0  # birth and sign-up moved alike
        offset[cid] = birth
    assert len(set(offset.values())) > 50  # per customer, not one shift for everybody
    placed = dict(fetch(src, "SELECT id, placed_at FROM orders"))
    for oid, cid, when in fetch(tgt, "SELECT id, customer_id, placed_at FROM orders"):
        assert days(placed[oid], when) == offset[cid]


def test_an_entity_column_must_exist(dbs) -> None:  # type: ignore[no-untyped-def]
    src, tgt = dbs
    _both(src, tgt, "CREATE TABLE t (id INTEGER PRIMARY KEY, d DATE)")
    rule = ColumnRule("d", "d", "date_shift", {"entity_column": "person_id"})
    with pytest.raises(PreflightFailed) as exc:
        run(_plan(TablePlan("", "t", "", "t", (rule,), copy_unmapped=True)), src, tgt)
    assert [p.rule for p in exc.value.problems] == ["entity_column"]


def test_groups_name_the_joinable_columns_and_the_tightest(dbs) -> None:  # type: ignore[no-untyped-def]
    src, tgt = dbs
    _both(
        src,
        tgt,
        "CREATE TABLE a (id INTEGER PRIMARY KEY, email VARCHAR(120), phone VARCHAR(20))",
        "CREATE TABLE b (id INTEGER PRIMARY KEY, email VARCHAR(40), phone VARCHAR(20))",
    )
    resolved = []
    for name in ("a", "b"):
        tp = TablePlan(
            "",
            name,
            "",
            name,
            (ColumnRule("email", "email", "email"), ColumnRule("phone", "phone", "phone")),
        )
        info_s, info_t = src.describe_table("main", name), tgt.describe_table("main", name)
        resolved.append(ResolvedTable(tp, info_s, info_t, effective_rules(tp, info_s, info_t)))
    found = {g.technique: g for g in groups(resolved)}
    assert found["email"].spec.max_length == 40
    assert found["email"].describe() == (
        "2 columns masked with 'email' give the same output for the same value, so they stay "
        "joinable: a.email, b.email "
        "(all take the form that fits b.email, 40 characters)"
    )
    assert found["phone"].shortened_by is None
