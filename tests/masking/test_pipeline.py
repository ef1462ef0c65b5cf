"""End-to-end ETL runs SQLite → SQLite on real files, plus the shared scenario the live tests
(tests/live/test_etl*.py) replay on PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from masking import (
    Cancelled,
    ColumnRule,
    Plan,
    ProgressUpdate,
    TablePlan,
    TerminalError,
    ValidationFailed,
    run,
)
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams, Dialect

SECRET = b"k" * 32
FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Ken", "Margaret", "Linus"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Thompson", "Hamilton"]
CITIES = ["Montreal", "Toronto", "Ottawa", "Quebec", "Calgary"]

# Column types that differ between the three SQL dialects the scenario runs on.
TYPES = {
    "sqlite": {"ts": "TIMESTAMP", "bool": "BOOLEAN"},
    "postgresql": {"ts": "TIMESTAMP", "bool": "BOOLEAN"},
    "mysql": {"ts": "DATETIME", "bool": "BOOLEAN"},
    "sqlserver": {"ts": "DATETIME2", "bool": "BIT"},
}


def ddl(dialect: str, *, note_len: int | None = 200, note_not_null: bool = False) -> list[str]:
    t = TYPES[dialect]
    note = (f"VARCHAR({note_len})" if note_len else "TEXT") + (" NOT NULL" if note_not_null else "")
    return [
        f"""CREATE TABLE customers (
            id INTEGER NOT NULL PRIMARY KEY,
            code VARCHAR(20) NOT NULL UNIQUE,
            first_name VARCHAR(40) NOT NULL,
            last_name VARCHAR(40),
            email VARCHAR(120) UNIQUE,
            phone VARCHAR(30),
            city VARCHAR(40),
            birth_date DATE,
            balance NUMERIC(10, 2),
            active {t["bool"]})""",
        f"""CREATE TABLE orders (
            id INTEGER NOT NULL PRIMARY KEY,
            customer_id INTEGER NOT NULL,
            customer_code VARCHAR(20),
            amount NUMERIC(10, 2) NOT NULL,
            note {note},
            placed_at {t["ts"]},
            FOREIGN KEY (customer_id) REFERENCES customers (id),
            FOREIGN KEY (customer_code) REFERENCES customers (code))""",
    ]


def customer_rows(n: int, seed: int = 7) -> list[tuple]:
    rnd = random.Random(seed)
    rows = []
    for i in range(1, n + 1):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        rows.append(
            (
                i,
                f"C{i:06d}",
                first,
                last if i % 17 else None,
                f"{first.lower()}.{last.lower()}{i}@example.org",
                f"+1 514 555 {rnd.randint(1000, 9999)}",
                rnd.choice(CITIES),
                dt.date(1950, 1, 1) + dt.timedelta(days=rnd.randint(0, 20000)),
                Decimal(rnd.randint(0, 10**7)) / 100,
                i % 3 != 0,
            )
        )
    return rows


def order_rows(customers: int, n: int, seed: int = 11, null_note_at: int | None = None) -> list:
    rnd = random.Random(seed)
    rows = []
    for i in range(1, n + 1):
        c = rnd.randint(1, customers)
        note = None if i == null_note_at else f"order {i}"
        rows.append(
            (
                i,
                c,
                f"C{c:06d}",
                Decimal(rnd.randint(100, 10**6)) / 100,
                note,
                dt.datetime(2024, 1, 1) + dt.timedelta(minutes=rnd.randint(0, 500000)),
            )
        )
    return rows


def marker(d: Dialect) -> str:
    import sys

    mod = sys.modules[type(d.connect()).__module__.split(".")[0]]
    return "%s" if mod.paramstyle in ("format", "pyformat") else "?"


def _sqlite_value(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def execute(d: Dialect, sql: str, rows: Sequence[tuple] | None = None) -> None:
    conn = d.connect()
    cur = conn.cursor()
    try:
        if rows is not None:
            if not rows:
                return
            if d.name == "sqlite":  # sqlite3 binds neither Decimal nor (by default) dates
                rows = [tuple(_sqlite_value(v) for v in r) for r in rows]
            cur.executemany(sql.replace("?", marker(d)), rows)
        else:
            cur.execute(sql)
    finally:
        cur.close()
    if hasattr(conn, "commit"):
        conn.commit()


def seed(
    d: Dialect,
    customers: int = 250,
    orders: int = 700,
    *,
    with_data: bool = True,
    null_note_at: int | None = None,
    **ddl_kw: Any,
) -> None:
    for stmt in ddl(d.name, **ddl_kw):
        execute(d, stmt)
    if with_data:
        execute(
            d,
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            customer_rows(customers),
        )
        execute(
            d,
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)",
            order_rows(customers, orders, null_note_at=null_note_at),
        )


def fetch(d: Dialect, sql: str) -> list[tuple]:
    cur = d.connect().cursor()
    try:
        cur.execute(sql)
        return [tuple(r) for r in cur.fetchall()]
    finally:
        cur.close()


def snapshot(d: Dialect) -> dict[str, list[tuple]]:
    return {t: fetch(d, f"SELECT * FROM {t} ORDER BY id") for t in ("customers", "orders")}


def schema_of(d: Dialect) -> str:
    return d.capabilities.default_schema if d.capabilities.supports_schemas else ""


def make_plan(
    src: Dialect,
    tgt: Dialect,
    *,
    mode: str = "truncate",
    batch_size: int = 64,
    row_filter: str | None = None,
    order_rules: tuple = (),
    customer_rules: tuple = (),
) -> Plan:
    ss, ts = schema_of(src), schema_of(tgt)
    customers = customer_rules or (
        ColumnRule("first_name", "first_name", "first_name"),
        ColumnRule("last_name", "last_name", "last_name"),
        ColumnRule("email", "email", "email"),
        ColumnRule("phone", "phone", "phone"),
        ColumnRule("code", "code", "hash", {"length": 12}),
    )
    orders = order_rules or (ColumnRule("customer_code", "customer_code", "hash", {"length": 12}),)
    return Plan(
        tables=(
            # Children listed first on purpose: the pipeline must order by foreign keys.
            TablePlan(ss, "orders", ts, "orders", orders, None, copy_unmapped=True),
            TablePlan(ss, "customers", ts, "customers", customers, row_filter, copy_unmapped=True),
        ),
        secret=SECRET,
        seed=3,
        locale="en_US",
        target_mode=mode,
        batch_size=batch_size,
    )


def assert_masked_copy(
    src: Dialect, tgt: Dialect, result: Any, *, customers: int, orders: int
) -> None:
    """The scenario's expectations, shared by every dialect pair."""
    s, t = snapshot(src), snapshot(tgt)
    assert len(t["customers"]) == customers and len(t["orders"]) == orders
    assert result.rows_processed == customers + orders
    assert {r.name.split(".")[-1]: r.rows_written for r in result.tables} == {
        "customers": customers,
        "orders": orders,
    }
    assert result.fk_ok
    assert result.leak_report and all(c.ok for c in result.leak_report)
    assert all(c.equal == 0 for c in result.leak_report if c.identity_hiding)
    assert {c.method for c in result.leak_report} == {"target"}  # re-read from the target
    by_id = {r[0]: r for r in s["customers"]}
    for row in t["customers"]:
        orig = by_id[row[0]]
        assert row[2] != orig[2] or row[3] != orig[3]  # name pair changed
        assert row[4] != orig[4] and row[1] != orig[1]  # email and code changed
        assert row[6] == orig[6] and row[7] == orig[7]  # city, birth_date unmasked
        assert Decimal(str(row[8])) == Decimal(str(orig[8]))
    # The FK on the masked code still joins, to the same customer it did in the source.
    tcode = {r[0]: r[1] for r in t["customers"]}
    scode = {r[0]: r[1] for r in s["customers"]}
    src_orders = {r[0]: r for r in s["orders"]}
    for o in t["orders"]:
        assert src_orders[o[0]][2] == scode[o[1]]
        assert o[2] == tcode[o[1]]
    assert result.rows_masked == customers + orders


# --- SQLite → SQLite --------------------------------------------------------------------------


@pytest.fixture
def pair(tmp_path):  # type: ignore[no-untyped-def]
    src = get_dialect(
        ConnectionParams("sqlite", database=str(tmp_path / "src.db"), options={"create": True})
    )
    tgt = get_dialect(
        ConnectionParams("sqlite", database=str(tmp_path / "tgt.db"), options={"create": True})
    )
    yield src, tgt
    src.close()
    tgt.close()


def test_end_to_end_masks_keeps_joins_and_counts(pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt = pair
    seed(src)
    seed(tgt, with_data=False)
    result = run(make_plan(src, tgt), src, tgt)
    assert_masked_copy(src, tgt, result, customers=250, orders=700)
    assert [r.name for r in result.tables] == ["customers", "orders"]  # parents first


def test_masking_is_deterministic_across_runs(pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt = pair
    seed(src)
    seed(tgt, with_data=False)
    run(make_plan(src, tgt), src, tgt)
    first = snapshot(tgt)
    run(make_plan(src, tgt, batch_size=1000), src, tgt)
    assert snapshot(tgt) == first


def test_row_filter_loads_a_consistent_subset(pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt = pair
    seed(src, customers=100, orders=0)
    seed(tgt, with_data=False)
    result = run(make_plan(src, tgt, row_filter='"id" <= 40'), src, tgt)
    assert fetch(tgt, "SELECT COUNT(*) FROM customers") == [(40,)]
    assert result.tables[0].rows_read == 40


class Recorder:
    def __init__(self, cancel_after: int | None = None, fail_on: str | None = None):
        self.updates: list[ProgressUpdate] = []
        self.cancel_after = cancel_after
        self.fail_on = fail_on
        self.polls = 0

    def update(self, update: ProgressUpdate) -> None:
        if update.phase == self.fail_on and update.table.endswith("orders"):
            raise RuntimeError("progress sink down for C000123 'secret'")
        self.updates.append(update)

    def should_cancel(self) -> bool:
        self.polls += 1
        return self.cancel_after is not None and self.polls > self.cancel_after


def test_progress_reports_table_boundaries(pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt = pair
    seed(src)
    seed(tgt, with_data=False)
    rec = Recorder()
    run(make_plan(src, tgt), src, tgt, rec)
    phases = [(u.phase, u.table) for u in rec.updates]
    assert ("start", "customers") in phases and ("table_done", "orders") in phases
    assert rec.updates[-1].rows_done == 950 and rec.updates[-1].percent == 100.0


def _prefill(tgt: Dialect) -> dict:
    execute(
        tgt,
        "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        customer_rows(3, seed=99),
    )
    execute(tgt, "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)", order_rows(3, 5, seed=98))
    return snapshot(tgt)


def test_failure_at_a_late_batch_rolls_back_everything(pair) -> None:  # type: ignore
    src, tgt = pair
    seed(src, null_note_at=400)  # orders batch 7 of 11 holds a NULL note
    seed(tgt, with_data=False, note_not_null=True)
    before = _prefill(tgt)
    with pytest.raises(ValidationFailed) as err:
        run(make_plan(src, tgt), src, tgt)
    exc = err.value
    assert (exc.table, exc.column, exc.rule) == ("orders", "note", "not_null")
    assert "row #400 (batch 7)" in str(exc)
    assert snapshot(tgt) == before


def test_length_violation_names_column_and_rule_without_value(pair) -> None:  # type: ignore
    src, tgt = pair
    seed(src, note_len=None)  # no declared length: only the rows tell what fits
    seed(tgt, with_data=False, note_len=8)  # "order 100" is the first note too long
    before = _prefill(tgt)
    with pytest.raises(ValidationFailed) as err:
        run(make_plan(src, tgt), src, tgt)
    exc = err.value
    assert (exc.table, exc.column, exc.rule) == ("orders", "note", "max_length")
    assert "row #100 (batch 2)" in str(exc) and "order 100" not in str(exc)
    assert snapshot(tgt) == before


def test_progress_callback_error_rolls_back(pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt = pair
    seed(src)
    seed(tgt, with_data=False)
    before = _prefill(tgt)
    with pytest.raises(TerminalError) as err:
        run(make_plan(src, tgt), src, tgt, Recorder(fail_on="start"))
    text = str(err.value)
    assert "orders" in text and "C000123" not in text and "secret" not in text
    assert snapshot(tgt) == before


def test_cancel_mid_run_rolls_back(pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt = pair
    seed(src)
    seed(tgt, with_data=False)
    before = _prefill(tgt)
    with pytest.raises(Cancelled) as stopped:
        run(make_plan(src, tgt), src, tgt, Recorder(cancel_after=6))
    # The source read has ended while the error (whose traceback holds the run's frames) is
    # still alive: closing the source now cannot pull a connection from under a read.
    assert stopped.value is not None
    assert not any(t.name == "maskflow-extract" for t in threading.enumerate())
    assert snapshot(tgt) == before


class Gate(Recorder):
    """A progress that refuses the commit after every check passed (the app cannot record it)."""

    def __init__(self, refuse: bool):
        super().__init__()
        self.refuse, self.calls = refuse, 0
        self.updates_at_call = -1

    def before_commit(self) -> None:
        self.calls += 1
        self.updates_at_call = len(self.updates)
        if self.refuse:
            raise TerminalError("the outcome cannot be recorded")


def test_before_commit_is_the_last_word_before_the_commit(pair) -> None:  # type: ignore
    src, tgt = pair
    seed(src)
    seed(tgt, with_data=False)
    before = _prefill(tgt)
    refused = Gate(refuse=True)
    with pytest.raises(TerminalError, match="cannot be recorded"):
        run(make_plan(src, tgt), src, tgt, refused)
    assert refused.calls == 1 and snapshot(tgt) == before  # rolled back, after verification
    assert refused.updates[-1].phase == "verify"
    allowed = Gate(refuse=False)
    run(make_plan(src, tgt), src, tgt, allowed)
    assert allowed.calls == 1 and snapshot(tgt) != before
    assert fetch(tgt, "SELECT COUNT(*) FROM orders") == [(700,)]


def test_truncate_replaces_and_append_adds(pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt = pair
    seed(src, customers=50, orders=80)
    seed(tgt, with_data=False)
    _prefill(tgt)
    run(make_plan(src, tgt), src, tgt)
    assert fetch(tgt, "SELECT COUNT(*) FROM customers") == [(50,)]
    execute(tgt, "DELETE FROM orders")
    execute(tgt, "DELETE FROM customers")
    execute(
        tgt,
        "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(1000, "Z1", "Zed", None, None, None, None, None, None, None)],
    )
    run(make_plan(src, tgt, mode="append"), src, tgt)
    assert fetch(tgt, "SELECT COUNT(*) FROM customers") == [(51,)]


def test_append_detects_clash_with_existing_target_keys(pair) -> None:  # type: ignore
    src, tgt = pair
    seed(src, customers=20, orders=0)
    seed(tgt, with_data=False)
    execute(
        tgt,
        "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(5, "Z1", "Zed", None, None, None, None, None, None, None)],
    )
    before = snapshot(tgt)
    with pytest.raises(ValidationFailed) as err:
        run(make_plan(src, tgt, mode="append"), src, tgt)
    assert (err.value.column, err.value.rule) == ("id", "unique")
    assert snapshot(tgt) == before


def test_self_referencing_masked_key_keeps_hierarchy(pair) -> None:  # type: ignore
    src, tgt = pair
    schema = (
        "CREATE TABLE emp (id INTEGER NOT NULL PRIMARY KEY, boss INTEGER, "
        "city VARCHAR(40), FOREIGN KEY (boss) REFERENCES emp (id))"
    )
    rows = [(i, (i // 3) or None, CITIES[i % len(CITIES)]) for i in range(1, 301)]
    for d in (src, tgt):
        execute(d, schema)
    execute(src, "INSERT INTO emp VALUES (?, ?, ?)", rows)
    plan = Plan(
        tables=(
            TablePlan(
                "",
                "emp",
                "",
                "emp",
                (
                    # The FK column is listed first: it must still share the key's masker.
                    ColumnRule("boss", "boss", "hash_number"),
                    ColumnRule("id", "id", "hash_number"),
                    ColumnRule("city", "city", "fixed_value", {"value": "Montreal"}),
                ),
            ),
        ),
        secret=SECRET,
        batch_size=32,
    )
    result = run(plan, src, tgt)
    assert result.fk_ok
    pairs_src = fetch(src, "SELECT e.id, b.id FROM emp e JOIN emp b ON e.boss = b.id")
    pairs_tgt = fetch(tgt, "SELECT e.id, b.id FROM emp e JOIN emp b ON e.boss = b.id")
    assert len(pairs_tgt) == len(pairs_src) == 298
    assert not {r[0] for r in fetch(src, "SELECT id FROM emp")} & {
        r[0] for r in fetch(tgt, "SELECT id FROM emp")
    }
    city = next(c for c in result.leak_report if c.column == "city")
    assert city.equal > 0 and city.ok and not city.identity_hiding  # reported, not fatal


def test_leak_check_fails_the_run_when_target_undoes_masking(pair) -> None:  # type: ignore
    src, tgt = pair
    seed(src, customers=60, orders=0)
    seed(tgt, with_data=False)
    # A target-side trigger that writes the real value back is exactly what the check is for.
    execute(
        tgt,
        "CREATE TRIGGER undo AFTER INSERT ON customers BEGIN "
        "UPDATE customers SET first_name = 'Ada' WHERE id = NEW.id; END",
    )
    with pytest.raises(ValidationFailed) as err:
        run(make_plan(src, tgt), src, tgt)
    assert (err.value.table, err.value.column, err.value.rule) == (
        "customers",
        "first_name",
        "leak_check",
    )
    assert fetch(tgt, "SELECT COUNT(*) FROM customers") == [(0,)]


def test_precision_overflow_is_reported_before_writing(pair) -> None:  # type: ignore
    src, tgt = pair
    seed(src, customers=300, orders=0)
    execute(
        tgt,
        "CREATE TABLE customers (id INTEGER NOT NULL PRIMARY KEY, code VARCHAR(20), "
        "first_name VARCHAR(40), balance NUMERIC(6, 2))",
    )
    plan = Plan(
        tables=(
            TablePlan(
                "",
                "customers",
                "",
                "customers",
                (
                    ColumnRule("id", "id"),
                    ColumnRule("code", "code", "hash", {"length": 12}),
                    ColumnRule("first_name", "first_name", "first_name"),
                    ColumnRule("balance", "balance"),
                ),
            ),
        ),
        secret=SECRET,
        batch_size=50,
    )
    big = [r[0] for r in fetch(src, "SELECT id FROM customers WHERE balance >= 10000 ORDER BY id")]
    with pytest.raises(ValidationFailed) as err:
        run(plan, src, tgt)
    assert (err.value.column, err.value.rule) == ("balance", "precision")
    assert f"row #{big[0]} " in str(err.value)
    assert fetch(tgt, "SELECT COUNT(*) FROM customers") == [(0,)]


def test_duplicate_across_batches_in_a_unique_target_column(pair) -> None:  # type: ignore
    src, tgt = pair
    execute(src, "CREATE TABLE people (id INTEGER NOT NULL PRIMARY KEY, tag VARCHAR(10))")
    execute(tgt, "CREATE TABLE people (id INTEGER NOT NULL PRIMARY KEY, tag VARCHAR(10) UNIQUE)")
    execute(src, "INSERT INTO people VALUES (?, ?)", [(i, f"T{i % 100}") for i in range(150)])
    plan = Plan(
        tables=(
            TablePlan(
                "", "people", "", "people", (ColumnRule("id", "id"), ColumnRule("tag", "tag"))
            ),
        ),
        secret=SECRET,
        batch_size=64,
    )
    with pytest.raises(ValidationFailed) as err:
        run(plan, src, tgt)
    assert (err.value.column, err.value.rule) == ("tag", "unique")
    assert "row #101 (batch 2)" in str(err.value)
    assert fetch(tgt, "SELECT COUNT(*) FROM people") == [(0,)]
