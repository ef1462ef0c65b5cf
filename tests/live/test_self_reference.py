"""A target table that references itself (employees.manager_id → employees.id) loads in any
row order, on every dialect: a row may name a manager a later batch brings. InnoDB and SQLite
check a foreign key row by row or statement by statement, so their loads wait to check it,
and still refuse a row that references no row. A re-run in truncate mode clears such a table
(InnoDB refuses to delete a row another row of the table references)."""

from __future__ import annotations

import pytest

from masking import ColumnRule, Plan, TablePlan, run
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams, Dialect
from masking.errors import MaskingError
from masking.staged import run_staged
from tests.masking.test_pipeline import execute, fetch

pytestmark = pytest.mark.live

FIXTURE = {"postgresql": "pg_db", "mysql": "mariadb_db", "sqlserver": "sqlserver_db"}
DIALECTS = [
    "sqlite",
    "postgresql",
    "mysql",
    pytest.param("sqlserver", marks=pytest.mark.sqlserver),
]
DDL = (
    "CREATE TABLE employees (id INT NOT NULL PRIMARY KEY, name VARCHAR(40),"
    " manager_id INT, CONSTRAINT emp_mgr FOREIGN KEY (manager_id) REFERENCES employees (id))"
)
# Each row's manager comes after it, in any order a reader takes: by id, or as inserted.
ROWS = [(1, "Ada", 5), (2, "Bob", 1), (3, "Cy", 5), (4, "Di", None), (5, "Ed", 4), (6, "Fay", 7)]
ROWS += [(7, "Gus", 2)]


def _schema(d: Dialect) -> str:
    return d.capabilities.default_schema if d.capabilities.supports_schemas else ""


def _plan(d_src: Dialect, d_tgt: Dialect) -> Plan:
    table = TablePlan(
        _schema(d_src),
        "employees",
        _schema(d_tgt),
        "employees",
        (ColumnRule("name", "name", "first_name"),),
        copy_unmapped=True,
    )
    return Plan(
        secret=b"self-reference-key-0123456789ab", tables=(table,), batch_size=2,
        target_mode="truncate",
    )  # fmt: skip


@pytest.fixture(params=DIALECTS)
def pair(request):
    """A source and a target database of one dialect, both with the table."""
    if request.param == "sqlite":
        tmp = request.getfixturevalue("tmp_path")
        params = [
            ConnectionParams("sqlite", database=str(tmp / f"{n}.db"), options={"create": True})
            for n in ("src", "tgt")
        ]
    else:
        factory = request.getfixturevalue(FIXTURE[request.param] + "_factory")
        params = [factory(), factory()]
    src, tgt = (get_dialect(p) for p in params)
    for d in (src, tgt):
        execute(d, DDL)
    _load_unchecked(src, ROWS)
    yield src, tgt
    src.close()
    tgt.close()


def _load_unchecked(d: Dialect, rows: list[tuple]) -> None:
    """The source's rows as they stand, whatever their order (parents first, then links)."""
    execute(d, "INSERT INTO employees (id, name, manager_id) VALUES (?, ?, ?)",
            [(i, n, None) for i, n, _ in rows])  # fmt: skip
    for i, _, m in rows:
        if m is not None:
            execute(d, f"UPDATE employees SET manager_id = {m} WHERE id = {i}")
    if d.name != "sqlite":
        d.connect().commit()


def _links(d: Dialect) -> list[tuple]:
    return fetch(d, "SELECT id, manager_id FROM employees ORDER BY id")


def test_a_table_referencing_itself_loads_and_reloads(pair):
    src, tgt = pair
    plan = _plan(src, tgt)
    want = [(i, m) for i, _, m in ROWS]
    for _ in range(2):  # the second run clears the rows the first one wrote
        result = run(plan, src, tgt)
        assert result.rows_processed == len(ROWS) and result.fk_ok
        assert _links(tgt) == want
    masked = fetch(tgt, "SELECT name FROM employees ORDER BY id")
    assert result.rows_masked == len(ROWS) and masked != [(n,) for _, n, _ in ROWS]
    staged = run_staged(plan, src, tgt, "selfref1", unit_rows=3)
    assert staged.fk_ok and _links(tgt) == want


def test_a_row_referencing_no_row_is_still_refused(pair):
    src, tgt = pair
    if src.name in ("postgresql", "sqlserver"):
        execute(src, "ALTER TABLE employees DROP CONSTRAINT emp_mgr")
    elif src.name == "mysql":
        execute(src, "ALTER TABLE employees DROP FOREIGN KEY emp_mgr")
    else:
        execute(src, "PRAGMA foreign_keys = OFF")
    execute(src, "UPDATE employees SET manager_id = 99 WHERE id = 3")
    if src.name != "sqlite":
        src.connect().commit()
    with pytest.raises(MaskingError) as refused:
        run(_plan(src, tgt), src, tgt)
    assert refused.value.rule == "foreign_key"  # type: ignore[attr-defined]
    assert _links(tgt) == []  # nothing of the run stays


def test_clearing_it_still_refuses_to_orphan_a_table_outside_the_run(mariadb_db_factory):
    """InnoDB's checks are off while the table is cleared: the rows of other tables that
    reference it are checked instead, and the run stops with the target as it was."""
    src, tgt = (get_dialect(mariadb_db_factory()) for _ in range(2))
    for d in (src, tgt):
        execute(d, DDL)
    _load_unchecked(src, ROWS)
    plan = _plan(src, tgt)
    run(plan, src, tgt)
    teams = "CREATE TABLE teams (id INT PRIMARY KEY, lead_id INT, CONSTRAINT team_lead"
    execute(tgt, teams + " FOREIGN KEY (lead_id) REFERENCES employees (id))")
    execute(tgt, "INSERT INTO teams VALUES (1, 3)")
    tgt.connect().commit()
    before = fetch(tgt, "SELECT * FROM employees ORDER BY id")
    with pytest.raises(MaskingError) as refused:
        run(plan, src, tgt)
    assert refused.value.rule == "foreign_key"  # type: ignore[attr-defined]
    assert "teams" in str(refused.value)
    assert fetch(tgt, "SELECT * FROM employees ORDER BY id") == before
    assert fetch(tgt, "SELECT @@SESSION.foreign_key_checks") == [(1,)]
    src.close()
    tgt.close()


def test_sqlite_refuses_at_commit_a_key_to_a_table_outside_the_run(tmp_path):
    """Its checks wait for the COMMIT, which still refuses a row whose parent, in a table the
    run does not load, is missing: the run is rolled back and the connection stays usable."""
    made = {
        n: get_dialect(
            ConnectionParams("sqlite", database=str(tmp_path / f"{n}.db"), options={"create": True})
        )
        for n in ("src", "tgt")
    }
    src, tgt = made["src"], made["tgt"]
    execute(tgt, "CREATE TABLE depts (id INT PRIMARY KEY)")
    execute(tgt, "INSERT INTO depts VALUES (1)")
    for d in (src, tgt):
        execute(
            d,
            "CREATE TABLE staff (id INT PRIMARY KEY, name VARCHAR(40), dept_id INT"
            + (" REFERENCES depts (id))" if d is tgt else ")"),
        )
    execute(src, "INSERT INTO staff VALUES (1, 'Ada', 1), (2, 'Bob', 2)")  # no dept 2 there
    plan = Plan(
        secret=b"self-reference-key-0123456789ab",
        tables=(TablePlan("main", "staff", "main", "staff", (), copy_unmapped=True),),
    )
    with pytest.raises(MaskingError) as refused:
        run(plan, src, tgt)
    assert refused.value.rule == "foreign_key"  # type: ignore[attr-defined]
    assert fetch(tgt, "SELECT COUNT(*) FROM staff") == [(0,)]
    execute(src, "DELETE FROM staff WHERE id = 2")
    assert run(plan, src, tgt).rows_processed == 1  # the connection is not left in a transaction
