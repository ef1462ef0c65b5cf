"""Denormalised copies keep their join after masking, on real servers, and re-runs are
byte-identical.

``customers(id, email UNIQUE, phone, first_name, last_name, ssn UNIQUE)`` and ``orders``
repeating the customer's values in its own columns (shorter ones, for phone and e-mail): one
workflow masks both tables with the same techniques. In the target, every order must still
match its customer on every masked copy, and a second run must give the same rows."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace

import pytest

from masking import ColumnRule, Plan, TablePlan, run
from masking.dialects import get_dialect
from masking.dialects.base import Dialect
from tests.masking.test_pipeline import execute, fetch

pytestmark = pytest.mark.live

CUSTOMERS = 100_000
ORDERS = 300_000
COPIES = {  # customers column -> orders column
    "email": "customer_email",
    "phone": "customer_phone",
    "first_name": "customer_first_name",
    "last_name": "customer_last_name",
    "ssn": "customer_ssn",
}
SECRET = b"consistency-live-key-0123456789"


def _ddl(schema: str) -> list[str]:
    q = f"{schema}." if schema else ""
    return [
        f"""CREATE TABLE {q}customers (
            id INTEGER NOT NULL PRIMARY KEY,
            email VARCHAR(120) NOT NULL UNIQUE,
            phone VARCHAR(20),
            first_name VARCHAR(40),
            last_name VARCHAR(40),
            ssn VARCHAR(11) UNIQUE)""",
        f"""CREATE TABLE {q}orders (
            id INTEGER NOT NULL PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES {q}customers (id),
            customer_email VARCHAR(60),
            customer_phone VARCHAR(12),
            customer_first_name VARCHAR(40),
            customer_last_name VARCHAR(40),
            customer_ssn VARCHAR(11))""",
    ]


# server-side generation: 400,000 rows without a round trip per row
def _customer_select(n: str, cat, div: str) -> str:  # type: ignore[no-untyped-def]
    email = cat("'person'", n, "'@example.org'")
    phone = cat("'(416) '", f"200 + {n} % 800", "'-'", f"1000 + {n} % 9000")
    first, last = cat("'First'", f"{n} % 450"), cat("'Last'", f"{n} % 730")
    # valid, distinct SSNs: area 100-599, group 10-99, serial 1000-1002
    ssn = cat(
        f"100 + {n} % 500", "'-'", f"10 + ({n} {div} 500) % 90", "'-'", f"1000 + {n} {div} 45000"
    )
    return f"SELECT {n}, {email}, {phone}, {first}, {last}, {ssn}"


def _seed(d: Dialect, schema: str) -> None:
    for stmt in _ddl(schema):
        execute(d, stmt)
    q = f"{schema}." if schema else ""
    if d.name == "postgresql":
        series, i, div = "generate_series(1, {n}) AS g(i)", "g.i", "/"
        cat = _concat_pg
    elif d.name == "mysql":
        series, i, div = "seq_1_to_{n} AS g", "g.seq", "DIV"
        cat = _concat_mysql
    else:
        series = "(WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {n})"
        series += " SELECT i FROM g) AS g"
        i, div, cat = "g.i", "/", _concat_sqlite
    execute(
        d,
        f"INSERT INTO {q}customers {_customer_select(i, cat, div)} "
        f"FROM {series.format(n=CUSTOMERS)}",
    )
    c = f"1 + (({i} % {CUSTOMERS}) * 7919) % {CUSTOMERS}"
    execute(
        d,
        f"INSERT INTO {q}orders SELECT {i}, c.id, c.email, "
        f"{_digits_only(d, 'c.phone')}, c.first_name, c.last_name, c.ssn "
        f"FROM {series.format(n=ORDERS)} JOIN {q}customers c ON c.id = {c}",
    )


def _digits_only(d: Dialect, col: str) -> str:
    """The order keeps the customer's phone as digits only (its column is shorter)."""
    out = col
    for ch in ("(", ")", " ", "-"):
        out = f"REPLACE({out}, '{ch}', '')"
    return out


def _concat_pg(*parts: str) -> str:
    return "(" + " || ".join(f"({p})::text" for p in parts) + ")"


def _concat_mysql(*parts: str) -> str:
    return "CONCAT(" + ", ".join(parts) + ")"


def _concat_sqlite(*parts: str) -> str:
    return "(" + " || ".join(f"CAST({p} AS TEXT)" for p in parts) + ")"


def _plan(src: Dialect, tgt: Dialect, src_schema: str, tgt_schema: str) -> Plan:
    customers = tuple(ColumnRule(c, c, c) for c in COPIES)  # each copy masked by its kind
    orders = tuple(ColumnRule(o, o, c) for c, o in COPIES.items())
    return Plan(
        tables=(
            TablePlan(src_schema, "orders", tgt_schema, "orders", orders, copy_unmapped=True),
            TablePlan(
                src_schema, "customers", tgt_schema, "customers", customers, copy_unmapped=True
            ),
        ),
        secret=SECRET,
        batch_size=7_000,
        key_version="live-1",
    )


def _mismatches(tgt: Dialect, schema: str) -> dict[str, int]:
    q = f"{schema}." if schema else ""
    out = {}
    for c, o in COPIES.items():
        theirs = _digits_only(tgt, f"c.{c}") if c == "phone" else f"c.{c}"
        out[c] = fetch(
            tgt,
            f"SELECT COUNT(*) FROM {q}orders o JOIN {q}customers c ON c.id = o.customer_id "
            f"WHERE o.{o} <> {theirs}",
        )[0][0]
    return out


def _checksums(tgt: Dialect, schema: str) -> dict[str, str]:
    q = f"{schema}." if schema else ""
    out = {}
    for table in ("customers", "orders"):
        digest = hashlib.sha256()
        for row in fetch(tgt, f"SELECT * FROM {q}{table} ORDER BY id"):
            digest.update(repr(tuple(row)).encode())
        out[table] = digest.hexdigest()
    return out


@pytest.fixture(params=["pg-pg", "mariadb-pg", "sqlite-sqlite"])
def pair(request, tmp_path) -> Iterator[tuple[Dialect, Dialect, str, str]]:  # type: ignore[no-untyped-def]
    from masking.dialects.base import ConnectionParams

    src_name, tgt_name = request.param.split("-")
    if src_name == "sqlite":
        src_params = ConnectionParams(
            "sqlite", database=str(tmp_path / "s.db"), options={"create": True}
        )
        tgt_params = ConnectionParams(
            "sqlite", database=str(tmp_path / "t.db"), options={"create": True}
        )
    else:
        factory = request.getfixturevalue("pg_db_factory")
        src_params = factory() if src_name == "pg" else request.getfixturevalue("mariadb_db")
        tgt_params = factory()
    src, tgt = get_dialect(src_params), get_dialect(tgt_params)
    src_schema = "crm" if src.name == "postgresql" else ""
    tgt_schema = "crm" if tgt.name == "postgresql" else ""
    for d, schema in ((src, src_schema), (tgt, tgt_schema)):
        if schema:
            execute(d, f"CREATE SCHEMA {schema}")
            d.connect().commit()
    yield src, tgt, src_schema, tgt_schema
    src.close()
    tgt.close()


def test_masked_copies_still_join_and_reruns_are_identical(pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt, src_schema, tgt_schema = pair
    _seed(src, src_schema)
    src.connect().commit()
    for stmt in _ddl(tgt_schema):
        execute(tgt, stmt)
    tgt.connect().commit()
    assert _mismatches(src, src_schema) == dict.fromkeys(COPIES, 0)  # the source joins

    plan = _plan(src, tgt, src_schema, tgt_schema)
    first = run(plan, src, tgt)
    assert first.rows_processed == CUSTOMERS + ORDERS
    assert _mismatches(tgt, tgt_schema) == dict.fromkeys(COPIES, 0)
    q = f"{tgt_schema}." if tgt_schema else ""
    leaked = fetch(tgt, f"SELECT COUNT(*) FROM {q}customers WHERE email LIKE 'person%'")[0][0]
    assert leaked == 0
    digits = fetch(tgt, f"SELECT COUNT(*) FROM {q}customers WHERE phone LIKE '(%'")[0][0]
    assert digits == 0  # the group's shortest column (12 characters) set the form for both
    sums = _checksums(tgt, tgt_schema)

    second = run(plan, src, tgt)
    assert second.rows_processed == first.rows_processed
    assert _checksums(tgt, tgt_schema) == sums

    rotated = run(replace(plan, secret=b"another-key", key_version="live-2"), src, tgt)
    assert rotated.rows_processed == first.rows_processed
    assert _checksums(tgt, tgt_schema) != sums
    assert _mismatches(tgt, tgt_schema) == dict.fromkeys(COPIES, 0)
