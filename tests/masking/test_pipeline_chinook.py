"""Mask the Chinook sample database's people and invoices (SQLite → SQLite), with the
techniques PII discovery suggests; tests/live/test_etl_chinook.py does the same on PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from masking import ColumnRule, Plan, RunResult, TablePlan, run
from masking.detect import detect_table
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams, Dialect

CHINOOK = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "chinook"
SQLITE_SCRIPT = CHINOOK / "Chinook_Sqlite.sql"

# Realistic choices a privacy officer would make; discovery's suggestions are applied on top.
BASELINE = {
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "phone": "phone",
    "fax": "phone",
    "address": "street_address",
    "city": "city",
    "postal_code": "postal_code",
    "company": "company",
    "billing_address": "street_address",
    "billing_city": "city",
    "billing_postal_code": "postal_code",
}


def snake(name: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out.replace("__", "_")


def chinook_rules(dialect: Dialect, schema: str, table: str) -> tuple[ColumnRule, ...]:
    """Baseline rules plus every column discovery flags; key columns stay as they are."""
    info = dialect.describe_table(schema, table)
    keys = set(info.primary_key) | {c for fk in info.foreign_keys for c in fk.columns}
    sample = next(iter(dialect.read_batches(info, [c.name for c in info.columns], 200)))
    found = detect_table(
        [(c.name, c.native_type, c.category) for c in info.columns],
        {c.name: sample.column(c.name).to_pylist() for c in info.columns},
    )
    rules = []
    for col in info.columns:
        if col.name in keys:
            continue
        technique, params = BASELINE.get(snake(col.name)), {}
        if col.name in found:
            technique, params = found[col.name].technique, dict(found[col.name].params)
        if technique:
            rules.append(ColumnRule(col.name, col.name, technique, params))
    return tuple(rules)


def chinook_plan(src: Dialect, tgt: Dialect, names: dict[str, str]) -> Plan:
    """`names` maps the logical tables (employee, customer, invoice) to the dialect's names."""
    ss = src.capabilities.default_schema if src.capabilities.supports_schemas else ""
    ts = tgt.capabilities.default_schema if tgt.capabilities.supports_schemas else ""
    tables = tuple(
        TablePlan(ss, names[t], ts, names[t], chinook_rules(src, ss, names[t]), None, True)
        for t in ("invoice", "customer", "employee")
    )
    return Plan(
        tables=tables,
        secret=b"chinook-secret-0123456789abcdef",
        seed=1,
        target_mode="truncate",
        batch_size=25,
    )


def assert_chinook(
    src: Dialect, tgt: Dialect, result: RunResult, names: dict[str, str], rows: dict[str, int]
) -> None:
    assert {r.name.split(".")[-1]: r.rows_written for r in result.tables} == {
        names[t]: n for t, n in rows.items()
    }
    assert result.fk_ok
    assert len(result.leak_report) >= 10
    for check in result.leak_report:
        assert check.ok, check
        if check.identity_hiding:
            assert check.equal == 0, check
    techniques = {c.technique for c in result.leak_report}
    assert {"first_name", "last_name", "email", "phone"} <= techniques


def assert_chinook_copy(src: Dialect, tgt: Dialect, fetch) -> None:
    """The masked copy in a database with Chinook's own names (`fetch` reads rows): invoices
    still join their customers and support reps, no customer keeps an e-mail, and a table the
    plan did not touch is whole."""
    joined = fetch(
        tgt,
        "SELECT COUNT(*) FROM Invoice i JOIN Customer c ON c.CustomerId = i.CustomerId "
        "JOIN Employee e ON e.EmployeeId = c.SupportRepId",
    )
    assert [tuple(r) for r in joined] == [(412,)]
    email = "SELECT Email FROM Customer ORDER BY CustomerId"
    before, after = fetch(src, email), fetch(tgt, email)
    assert len(after) == 59 and not {tuple(r) for r in before} & {tuple(r) for r in after}
    assert [tuple(r) for r in fetch(tgt, "SELECT COUNT(*) FROM Track")] == [(3503,)]


@pytest.fixture
def chinook_sqlite(tmp_path):  # type: ignore[no-untyped-def]
    script = SQLITE_SCRIPT.read_text(encoding="utf-8-sig")
    paths = {}
    for role in ("src", "tgt"):
        path = tmp_path / f"{role}.db"
        conn = sqlite3.connect(path)
        conn.executescript(script)
        if role == "tgt":
            for table in ("InvoiceLine", "Invoice", "Customer", "Employee"):
                conn.execute(f'DELETE FROM "{table}"')
            conn.commit()
        conn.close()
        paths[role] = path
    src = get_dialect(
        ConnectionParams("sqlite", database=str(paths["src"]), options={"read_only": True})
    )
    tgt = get_dialect(ConnectionParams("sqlite", database=str(paths["tgt"])))
    yield src, tgt
    src.close()
    tgt.close()


SQLITE_NAMES = {"employee": "Employee", "customer": "Customer", "invoice": "Invoice"}


def test_chinook_sqlite_people_masked_with_keys_intact(chinook_sqlite) -> None:  # type: ignore
    src, tgt = chinook_sqlite
    result = run(chinook_plan(src, tgt, SQLITE_NAMES), src, tgt)
    assert_chinook(src, tgt, result, SQLITE_NAMES, {"employee": 8, "customer": 59, "invoice": 412})
    cur = tgt.connect().execute(
        'SELECT COUNT(*) FROM "Invoice" i JOIN "Customer" c ON c."CustomerId" = i."CustomerId" '
        'JOIN "Employee" e ON e."EmployeeId" = c."SupportRepId"'
    )
    assert cur.fetchone()[0] == 412
    before = src.connect().execute('SELECT "Email" FROM "Customer"').fetchall()
    after = tgt.connect().execute('SELECT "Email" FROM "Customer"').fetchall()
    assert not set(before) & set(after)
