"""masking.run owns the target tables it creates: created before the rows move, dropped again
when the run fails or is cancelled, never when they existed before or hold others' rows."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

import masking
from masking import Cancelled, ColumnRule, Plan, TablePlan, TerminalError
from masking.dialects.base import ConnectionParams
from masking.progress import NullProgress

SECRET = b"k" * 32


def _db(path: Path, *sql: str) -> Path:
    db = sqlite3.connect(path)
    for s in sql:
        db.execute(s)
    db.commit()
    db.close()
    return path


@pytest.fixture
def pair(tmp_path):
    src = _db(
        tmp_path / "src.sqlite3",
        "CREATE TABLE people (id INTEGER PRIMARY KEY, email VARCHAR(80))",
        "INSERT INTO people VALUES (1, 'ada@example.com'), (2, 'alan@example.com')",
    )
    tgt = _db(tmp_path / "tgt.sqlite3")
    return src, tgt


def _tables(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        db.close()


PLAN = Plan(
    secret=SECRET,
    tables=(
        TablePlan(
            "main",
            "people",
            "main",
            "copy",
            (ColumnRule("email", "email", "email"),),
            copy_unmapped=True,
        ),
    ),
)
CREATE = [("main", "people", "main", "copy")]


def _run(src, tgt, **kw):
    with (
        masking.connect(ConnectionParams(dialect="sqlite", database=str(src))) as source,
        masking.connect(ConnectionParams(dialect="sqlite", database=str(tgt))) as target,
    ):
        return masking.run(PLAN, source, target, create_targets=CREATE, **kw)


def test_creates_the_missing_target_and_reports_it(pair):
    src, tgt = pair
    result = _run(src, tgt)
    assert result.created_tables == ("main.copy",) and result.rows_processed == 2
    db = sqlite3.connect(tgt)
    emails = {r[0] for r in db.execute("SELECT email FROM copy")}
    assert len(emails) == 2 and not emails & {"ada@example.com", "alan@example.com"}
    assert _run(src, tgt, progress=None).created_tables == ()  # exists now: not created again


class _CancelAtOnce(NullProgress):
    def should_cancel(self) -> bool:
        return True


def test_cancelled_run_drops_what_it_created(pair):
    src, tgt = pair
    with pytest.raises(Cancelled) as stopped:
        _run(src, tgt, progress=_CancelAtOnce())
    assert stopped.value.dropped_tables == ["main.copy"]
    assert "copy" not in _tables(tgt)


def test_failed_run_drops_created_but_never_existing_tables(pair, monkeypatch):
    src, tgt = pair
    _db(tgt, "CREATE TABLE keep_me (id INTEGER)")

    def fail(*args, **kwargs):
        raise TerminalError("refused")

    monkeypatch.setattr("masking.pipeline.run", fail)
    with pytest.raises(TerminalError) as failed:
        _run(src, tgt)
    assert failed.value.dropped_tables == ["main.copy"]
    assert _tables(tgt) == {"keep_me"}


def test_a_created_table_others_wrote_to_stays(pair, monkeypatch):
    src, tgt = pair

    def others_write_then_fail(plan, source, target, progress, **kw):
        _db(tgt, "INSERT INTO copy (id, email) VALUES (9, 'x')")
        raise TerminalError("refused")

    monkeypatch.setattr("masking.pipeline.run", others_write_then_fail)
    with pytest.raises(TerminalError) as failed:
        _run(src, tgt)
    assert failed.value.dropped_tables == []
    assert "copy" in _tables(tgt)


SHOP = (
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(80))",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers (id),"
    " total INTEGER)",
    "INSERT INTO customers VALUES (1, 'a@example.com'), (2, 'b@example.com'), (3, 'c@example.com')",
    "INSERT INTO orders VALUES (10, 1, 5), (11, 2, 6), (12, 3, 7), (13, 3, 8), (14, NULL, 9)",
)


def _shop_plan(customer_filter: str | None) -> Plan:
    return Plan(
        secret=SECRET,
        tables=(
            TablePlan(
                "main",
                "customers",
                "main",
                "customers",
                (ColumnRule("email", "email", "email"),),
                copy_unmapped=True,
                row_filter=customer_filter,
            ),
            TablePlan("main", "orders", "main", "orders", (), copy_unmapped=True),
        ),
    )


@pytest.mark.parametrize("staged", [False, True])
def test_a_copy_that_breaks_the_sources_relationships_says_so(tmp_path, staged):
    """A target without the source's foreign keys takes orders whose customer was filtered
    out: the run still checks the source's relationship, and reports the rows."""
    from masking.staged import run_staged
    from masking.validate import BrokenLink

    src = _db(tmp_path / "shop.sqlite3", *SHOP)
    tgt = _db(  # shaped by hand, without the key
        tmp_path / "copy.sqlite3",
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(80))",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, total INTEGER)",
    )

    def run(plan: Plan):
        with (
            masking.connect(ConnectionParams(dialect="sqlite", database=str(src))) as source,
            masking.connect(ConnectionParams(dialect="sqlite", database=str(tgt))) as target,
        ):
            if not staged:
                return masking.run(plan, source, target)
            return run_staged(plan, source, target, f"r{id(plan)}")

    whole = run(_shop_plan(None))
    assert whole.fk_ok and whole.broken_links == ()
    cut = run(_shop_plan("id <= 1"))  # customers 2 and 3 left out, their orders kept
    assert not cut.fk_ok
    assert cut.broken_links == (BrokenLink("main.orders", "customer_id", "main.customers", 3),)
    db = sqlite3.connect(tgt)
    assert db.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 5  # reported, not refused


def _foreign_keys(path: Path, table: str) -> set[tuple]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute(f"PRAGMA foreign_key_list({table})").fetchall()
        return {(r[2], r[3], r[4]) for r in rows}  # parent, column, parent column
    finally:
        db.close()


def test_created_tables_keep_the_sources_foreign_keys_among_the_runs_tables(tmp_path):
    """Parents are created first whatever order the run lists them in; a key to a table the
    run leaves out is not made; a self-reference is. The copy then refuses an orphan, as the
    source does: the run fails and drops what it created."""
    src = _db(
        tmp_path / "shop.sqlite3",
        *SHOP,
        "CREATE TABLE staff (id INTEGER PRIMARY KEY, boss_id INTEGER REFERENCES staff (id),"
        " shop_id INTEGER REFERENCES shops (id))",
        "CREATE TABLE shops (id INTEGER PRIMARY KEY)",
        "INSERT INTO staff VALUES (1, 2, NULL), (2, NULL, NULL)",
    )
    tgt = _db(tmp_path / "copy.sqlite3")
    tables = ("orders", "staff", "customers")  # a child before its parent
    plan = Plan(
        secret=SECRET,
        tables=tuple(TablePlan("main", t, "main", t, (), copy_unmapped=True) for t in tables),
    )
    create = [("main", t, "main", t) for t in tables]

    def run(p: Plan):
        with (
            masking.connect(ConnectionParams(dialect="sqlite", database=str(src))) as source,
            masking.connect(ConnectionParams(dialect="sqlite", database=str(tgt))) as target,
        ):
            return masking.run(p, source, target, create_targets=create)

    result = run(plan)
    assert result.fk_ok and set(result.created_tables) == {f"main.{t}" for t in tables}
    assert _foreign_keys(tgt, "orders") == {("customers", "customer_id", "id")}
    assert _foreign_keys(tgt, "staff") == {("staff", "boss_id", "id")}  # shops is not copied
    assert _foreign_keys(tgt, "customers") == set()
    for t in tables:
        sqlite3.connect(tgt).execute(f"DROP TABLE {t}").connection.commit()
    cut = replace(plan, tables=(replace(plan.tables[0]), plan.tables[1],
                                replace(plan.tables[2], row_filter="id <= 1")))  # fmt: skip
    with pytest.raises(TerminalError) as refused:
        run(cut)
    assert refused.value.rule == "foreign_key"  # type: ignore[attr-defined]
    assert set(refused.value.dropped_tables) == {f"main.{t}" for t in tables}  # type: ignore[attr-defined]
    assert _tables(tgt) == set()


def test_a_cycle_of_created_tables_leaves_out_the_key_that_closes_it(tmp_path):
    from masking.dialects import get_dialect
    from masking.targets import create_missing

    src = _db(
        tmp_path / "cycle.sqlite3",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, b_id INTEGER REFERENCES b (id))",
        "CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a (id))",
    )
    tgt = _db(tmp_path / "copy.sqlite3")
    source = get_dialect(ConnectionParams(dialect="sqlite", database=str(src)))
    target = get_dialect(ConnectionParams(dialect="sqlite", database=str(tgt)))
    created: list = []
    create_missing(source, target, [("main", t, "main", t) for t in "ab"], created)
    assert created == [("main", "b"), ("main", "a")] or created == [("main", "a"), ("main", "b")]
    first, second = (t for _, t in created)
    assert _foreign_keys(tgt, first) == set()  # its parent did not exist yet
    assert _foreign_keys(tgt, second) == {(first, f"{first}_id", "id")}
