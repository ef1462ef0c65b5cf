"""Demo databases: a SQLite source full of realistic (generated) PII, and an empty target.

Values are drawn from pools built once with Faker, so millions of rows take seconds, not hours.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from faker import Faker

SCHEMA = """
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    first_name VARCHAR(50) NOT NULL,
    last_name VARCHAR(50) NOT NULL,
    email VARCHAR(120) NOT NULL UNIQUE,
    phone VARCHAR(30),
    date_of_birth DATE,
    ssn VARCHAR(11),
    created_at DATETIME NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT 1,
    credit_limit DECIMAL(10, 2),
    notes TEXT
);
CREATE TABLE addresses (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    street VARCHAR(100) NOT NULL,
    city VARCHAR(60) NOT NULL,
    state VARCHAR(40),
    postal_code VARCHAR(12) NOT NULL,
    country VARCHAR(60) NOT NULL,
    is_primary BOOLEAN NOT NULL DEFAULT 0
);
CREATE TABLE employees (
    id INTEGER PRIMARY KEY,
    first_name VARCHAR(50) NOT NULL,
    last_name VARCHAR(50) NOT NULL,
    email VARCHAR(120) NOT NULL UNIQUE,
    sin VARCHAR(11),
    hire_date DATE NOT NULL,
    salary DECIMAL(10, 2) NOT NULL,
    manager_id INTEGER REFERENCES employees (id)
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    employee_id INTEGER REFERENCES employees (id),
    order_number VARCHAR(20) NOT NULL UNIQUE,
    order_date DATETIME NOT NULL,
    total DECIMAL(12, 2) NOT NULL,
    status VARCHAR(20) NOT NULL,
    shipping_notes TEXT
);
CREATE TABLE payments (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    card_number VARCHAR(19) NOT NULL,
    card_holder VARCHAR(100) NOT NULL,
    amount DECIMAL(12, 2) NOT NULL,
    paid_at DATETIME NOT NULL,
    ip_address VARCHAR(45)
);
CREATE INDEX ix_addresses_customer ON addresses (customer_id);
CREATE INDEX ix_orders_customer ON orders (customer_id);
CREATE INDEX ix_payments_order ON payments (order_id);
"""

TABLES = ("customers", "addresses", "employees", "orders", "payments")
STATUSES = ("new", "paid", "shipped", "delivered", "returned", "cancelled")


@dataclass(frozen=True)
class DemoCounts:
    customers: int
    addresses: int
    employees: int
    orders: int
    payments: int


def counts_for(rows: int) -> DemoCounts:
    employees = max(5, rows // 100)
    return DemoCounts(rows, rows, employees, rows * 2, rows * 2)


class _Pools:
    def __init__(self, seed: int):
        fake = Faker(["en_US", "en_CA"])
        fake.seed_instance(seed)
        self.first = sorted({fake.first_name() for _ in range(1500)})
        self.last = sorted({fake.last_name() for _ in range(1500)})
        self.street = [fake.street_address()[:100] for _ in range(2000)]
        self.city = [fake.city()[:60] for _ in range(500)]
        self.state = [fake.state()[:40] for _ in range(60)]
        self.postal = [fake.postcode() for _ in range(2000)]
        self.domains = ["example.com", "mail.example.org", "post.example.net", "inbox.example.ca"]
        self.words = fake.words(300)


def _luhn_complete(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return digits + str((10 - total % 10) % 10)


def _card(rng: random.Random) -> str:
    prefix = rng.choice(["4", "51", "52", "53", "54", "55", "37", "6011"])
    length = 15 if prefix == "37" else 16
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    return _luhn_complete(body)


def _phone(rng: random.Random) -> str:
    return f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"


def _ssn(rng: random.Random) -> str:
    return f"{rng.randint(1, 665):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def _sin(rng: random.Random) -> str:
    raw = _luhn_complete(str(rng.randint(1, 7)) + "".join(str(rng.randrange(10)) for _ in range(7)))
    return f"{raw[:3]} {raw[3:6]} {raw[6:]}"


def _note(
    rng: random.Random, pools: _Pools, first: str, last: str, email: str, phone: str
) -> str | None:
    kind = rng.randrange(4)
    if kind == 0:
        return None
    if kind == 1:
        return f"Prefers e-mail at {email}; call {phone} only after 5pm."
    if kind == 2:
        return f"Spoke with Mr. {last} about the order. Callback number {phone}."
    return " ".join(rng.choice(pools.words) for _ in range(8)).capitalize() + "."


def _chunks(rows, size: int = 5000):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def build_source(path: Path, *, rows: int = 1000, seed: int = 2024) -> DemoCounts:
    """(Re)create the demo source database at `path` with `rows` customers."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    rng = random.Random(seed)
    pools = _Pools(seed)
    counts = counts_for(rows)
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = OFF")
        db.executescript(SCHEMA)
        base = datetime(2020, 1, 1)
        today = date(2026, 1, 1)

        def customers():
            for i in range(1, counts.customers + 1):
                first, last = rng.choice(pools.first), rng.choice(pools.last)
                email = f"{first}.{last}.{i}@{rng.choice(pools.domains)}".lower()
                phone = _phone(rng)
                dob = today - timedelta(days=rng.randint(18 * 365, 90 * 365))
                yield (
                    i,
                    first,
                    last,
                    email,
                    phone if rng.random() > 0.05 else None,
                    dob.isoformat(),
                    _ssn(rng),
                    (base + timedelta(minutes=rng.randint(0, 3_000_000))).isoformat(sep=" "),
                    rng.random() > 0.1,
                    str(Decimal(rng.randint(0, 5_000_000)) / 100),
                    _note(rng, pools, first, last, email, phone),
                )

        def addresses():
            for i in range(1, counts.addresses + 1):
                yield (
                    i,
                    rng.randint(1, counts.customers),
                    rng.choice(pools.street),
                    rng.choice(pools.city),
                    rng.choice(pools.state),
                    rng.choice(pools.postal),
                    rng.choice(["United States", "Canada"]),
                    rng.random() > 0.5,
                )

        def employees():
            for i in range(1, counts.employees + 1):
                first, last = rng.choice(pools.first), rng.choice(pools.last)
                yield (
                    i,
                    first,
                    last,
                    f"{first}.{last}.{i}@staff.example.com".lower(),
                    _sin(rng),
                    (today - timedelta(days=rng.randint(30, 7000))).isoformat(),
                    str(Decimal(rng.randint(3_500_000, 18_000_000)) / 100),
                    None if i == 1 else rng.randint(1, max(1, i - 1)),
                )

        def orders():
            for i in range(1, counts.orders + 1):
                yield (
                    i,
                    rng.randint(1, counts.customers),
                    rng.randint(1, counts.employees),
                    f"ORD-{i:09d}",
                    (base + timedelta(minutes=rng.randint(0, 3_000_000))).isoformat(sep=" "),
                    str(Decimal(rng.randint(100, 500_000)) / 100),
                    rng.choice(STATUSES),
                    None if rng.random() > 0.3 else f"Leave at door, ring {_phone(rng)}",
                )

        def payments():
            for i in range(1, counts.payments + 1):
                yield (
                    i,
                    i,
                    _card(rng),
                    f"{rng.choice(pools.first)} {rng.choice(pools.last)}",
                    str(Decimal(rng.randint(100, 500_000)) / 100),
                    (base + timedelta(minutes=rng.randint(0, 3_000_000))).isoformat(sep=" "),
                    ".".join(
                        str(rng.randint(lo, hi))
                        for lo, hi in ((1, 223), (0, 255), (0, 255), (1, 254))
                    ),
                )

        for table, gen in (
            ("customers", customers),
            ("addresses", addresses),
            ("employees", employees),
            ("orders", orders),
            ("payments", payments),
        ):
            for chunk in _chunks(gen()):
                marks = ",".join("?" * len(chunk[0]))
                db.executemany(f"INSERT INTO {table} VALUES ({marks})", chunk)
            db.commit()
        db.execute("ANALYZE")
        db.commit()
    finally:
        db.close()
    return counts


def build_target(path: Path) -> None:
    """An empty SQLite database for masked copies (tables are created by workflows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.commit()
    finally:
        db.close()
