"""Target tables a run creates keep the source's foreign keys among the run's tables, on every
dialect and across dialects: parents are created first, the rows load (an employee's manager
may come later), a truncate-mode re-run and a staged run replace them, and the copy refuses
what the source would."""

from __future__ import annotations

import pytest

from masking import ColumnRule, Plan, TablePlan, run
from masking.dialects import get_dialect
from masking.dialects.base import Dialect
from masking.errors import MaskingError
from masking.staged import run_staged
from tests.masking.test_pipeline import execute, fetch

pytestmark = pytest.mark.live

FACTORY = {
    "postgresql": "pg_db_factory",
    "mysql": "mariadb_db_factory",
    "sqlserver": "sqlserver_db_factory",
}
MSSQL = pytest.mark.sqlserver
DDL = [
    "CREATE TABLE customers (id INT NOT NULL PRIMARY KEY, email VARCHAR(80) NOT NULL UNIQUE)",
    "CREATE TABLE staff (id INT NOT NULL PRIMARY KEY, name VARCHAR(40), boss_id INT,"
    " CONSTRAINT staff_boss FOREIGN KEY (boss_id) REFERENCES staff (id))",
    "CREATE TABLE orders (id INT NOT NULL PRIMARY KEY, customer_id INT NOT NULL,"
    " staff_id INT, total INT,"
    " CONSTRAINT order_customer FOREIGN KEY (customer_id) REFERENCES customers (id),"
    " CONSTRAINT order_staff FOREIGN KEY (staff_id) REFERENCES staff (id))",
]
ORDER = ("orders", "staff", "customers")  # the run lists a child before its parents


def _schema(d: Dialect) -> str:
    return d.capabilities.default_schema if d.capabilities.supports_schemas else ""


def _source(d: Dialect) -> None:
    for sql in DDL:
        execute(d, sql)
    execute(
        d, "INSERT INTO customers (id, email) VALUES (?, ?)",
        [(i, f"c{i}@example.org") for i in range(1, 31)],
    )  # fmt: skip
    execute(d, "INSERT INTO staff (id, name, boss_id) VALUES (?, ?, ?)",
            [(i, f"Staff {i}", None) for i in range(1, 6)])  # fmt: skip
    for i, boss in ((1, 4), (2, 1), (3, 4), (5, 2)):  # bosses that come later
        execute(d, f"UPDATE staff SET boss_id = {boss} WHERE id = {i}")
    execute(
        d, "INSERT INTO orders (id, customer_id, staff_id, total) VALUES (?, ?, ?, ?)",
        [(i, 1 + i % 30, (1 + i % 5) if i % 3 else None, i * 7) for i in range(1, 91)],
    )  # fmt: skip
    if d.name != "sqlite":
        d.connect().commit()


def _plan(src: Dialect, tgt: Dialect, customer_filter: str | None = None) -> Plan:
    rules = {"customers": (ColumnRule("email", "email", "email"),),
             "staff": (ColumnRule("name", "name", "full_name"),), "orders": ()}  # fmt: skip
    return Plan(
        secret=b"created-foreign-keys-0123456789a",
        batch_size=7,
        target_mode="truncate",
        tables=tuple(
            TablePlan(
                _schema(src),
                t,
                _schema(tgt),
                t,
                rules[t],
                copy_unmapped=True,
                row_filter=customer_filter if t == "customers" else None,
            )  # fmt: skip
            for t in ORDER
        ),
    )


def _keys(d: Dialect, table: str) -> set[tuple]:
    info = d.describe_table(_schema(d) or d.capabilities.default_schema, table)
    low = lambda names: tuple(n.lower() for n in names)  # noqa: E731
    return {
        (low(fk.columns), fk.ref_table.lower(), low(fk.ref_columns)) for fk in info.foreign_keys
    }


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("postgresql", "postgresql"),
        ("mysql", "mysql"),
        ("postgresql", "mysql"),
        ("mysql", "postgresql"),
        pytest.param("sqlserver", "sqlserver", marks=MSSQL),
        pytest.param("postgresql", "sqlserver", marks=MSSQL),
    ],
)
def test_created_tables_carry_the_keys_and_take_every_kind_of_run(source, target, request):
    src = get_dialect(request.getfixturevalue(FACTORY[source])())
    tgt = get_dialect(request.getfixturevalue(FACTORY[target])())
    try:
        _source(src)
        plan = _plan(src, tgt)
        create = [(_schema(src), t, _schema(tgt), t) for t in ORDER]
        with pytest.raises(MaskingError) as refused:  # customers cut, their orders kept
            run(_plan(src, tgt, "id <= 10"), src, tgt, create_targets=create)
        assert refused.value.rule == "foreign_key"  # type: ignore[attr-defined]
        dropped = refused.value.dropped_tables  # type: ignore[attr-defined]
        assert sorted(t.rsplit(".", 1)[-1] for t in dropped) == sorted(ORDER)  # children first
        first = run(plan, src, tgt, create_targets=create)
        assert first.fk_ok and len(first.created_tables) == 3
        assert _keys(tgt, "orders") == {
            (("customer_id",), "customers", ("id",)),
            (("staff_id",), "staff", ("id",)),
        }
        assert _keys(tgt, "staff") == {(("boss_id",), "staff", ("id",))}
        links = "SELECT id, boss_id FROM staff ORDER BY id"
        orders = "SELECT id, customer_id, staff_id, total FROM orders ORDER BY id"
        assert fetch(tgt, links) == fetch(src, links)
        assert fetch(tgt, orders) == fetch(src, orders)
        again = run(plan, src, tgt, create_targets=create)  # into the tables, keys and all
        assert again.fk_ok and again.created_tables == ()
        staged = run_staged(plan, src, tgt, "createdfk1", unit_rows=40)
        assert staged.fk_ok and fetch(tgt, orders) == fetch(src, orders)
        before = fetch(tgt, orders)
        with pytest.raises(MaskingError) as refused:  # customers cut, their orders kept
            run(_plan(src, tgt, "id <= 10"), src, tgt, create_targets=create)
        assert refused.value.rule == "foreign_key"  # type: ignore[attr-defined]
        assert fetch(tgt, orders) == before
    finally:
        src.close()
        tgt.close()
