"""Subsets that stay whole, SQLite → SQLite on the demo schema (tests/live/test_subset_live.py
replays the scenarios on PostgreSQL, tests/masking/test_subset_chinook.py on Chinook)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from apps.core.demo import SCHEMA, TABLES, build_source
from masking import Plan, PreflightFailed, TablePlan, preflight, run
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams, Dialect
from masking.subset import Relationship, Subset, SubsetRoot
from masking.subset.engine import SubsetClosure, sample_key
from masking.subset.sql import HASH_SPACE, sample_hash

SECRET = b"subset-secret-0123456789abcdef!!"
Query = Callable[[str], list[tuple]]


def demo_plan(subset: Subset | None, schema: str = "", tables=TABLES, **kw) -> Plan:
    return Plan(
        tables=tuple(TablePlan(schema, t, schema, t, (), None, True) for t in tables),
        secret=kw.pop("secret", SECRET),
        batch_size=37,
        subset=subset,
        **kw,
    )


def ten_percent(schema: str = "", **kw) -> Subset:
    return Subset(roots=(SubsetRoot(schema, "customers", percent=10),), **kw)


def sampled_ids(ids: list[int], secret: bytes, percent: float) -> set[int]:
    key = sample_key(secret)
    return {i for i in ids if sample_hash(key, [i]) < int(percent * HASH_SPACE / 100)}


def ids(query: Query, table: str, where: str = "") -> set[int]:
    return {r[0] for r in query(f"SELECT id FROM {table} {where}")}


def assert_whole(src: Query, tgt: Query) -> dict[str, set[int]]:
    """The demo subset of 10% of customers: every kept customer's orders, payments and
    addresses, the employees those orders name and their managers, and no orphan."""
    kept = {t: ids(tgt, t) for t in TABLES}
    all_customers = sorted(ids(src, "customers"))
    assert kept["customers"] == sampled_ids(all_customers, SECRET, 10)
    assert 0.05 * len(all_customers) < len(kept["customers"]) < 0.15 * len(all_customers)
    cust = ",".join(map(str, sorted(kept["customers"])))
    assert kept["orders"] == ids(src, "orders", f"WHERE customer_id IN ({cust})")
    assert kept["addresses"] == ids(src, "addresses", f"WHERE customer_id IN ({cust})")
    orders = ",".join(map(str, sorted(kept["orders"])))
    assert kept["payments"] == ids(src, "payments", f"WHERE order_id IN ({orders})")
    named = {r[0] for r in src(f"SELECT employee_id FROM orders WHERE id IN ({orders})")} - {None}
    assert named and named <= kept["employees"]
    # Every kept employee is named by a kept order or manages a kept employee: nothing extra.
    managers = {r[0] for r in tgt("SELECT manager_id FROM employees")} - {None}
    assert kept["employees"] == named | managers
    for child, col, parent in (
        ("orders", "customer_id", "customers"),
        ("orders", "employee_id", "employees"),
        ("addresses", "customer_id", "customers"),
        ("payments", "order_id", "orders"),
        ("employees", "manager_id", "employees"),
    ):
        orphans = tgt(
            f"SELECT COUNT(*) FROM {child} c WHERE c.{col} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {parent} p WHERE p.id = c.{col})"
        )
        assert orphans[0][0] == 0, (child, col)
    return kept


def sqlite_query(path: Path) -> Query:
    def query(sql: str) -> list[tuple]:
        with sqlite3.connect(path) as db:
            return db.execute(sql).fetchall()

    return query


@pytest.fixture
def demo(tmp_path: Path) -> tuple[Dialect, Dialect, Path, Path]:
    src_path, tgt_path = tmp_path / "src.db", tmp_path / "tgt.db"
    build_source(src_path, rows=400, seed=7)
    with sqlite3.connect(tgt_path) as db:
        db.executescript(SCHEMA)
    src = get_dialect(
        ConnectionParams("sqlite", database=str(src_path), options={"read_only": True})
    )
    tgt = get_dialect(ConnectionParams("sqlite", database=str(tgt_path)))
    yield src, tgt, src_path, tgt_path
    src.close()
    tgt.close()


def test_ten_percent_of_customers_arrives_whole_and_again_the_same(demo) -> None:
    src, tgt, src_path, tgt_path = demo
    result = run(demo_plan(ten_percent()), src, tgt)
    assert result.fk_ok
    kept = assert_whole(sqlite_query(src_path), sqlite_query(tgt_path))
    counts = {c.table: c for c in result.subset}
    assert {t: counts[t].kept for t in TABLES} == {t: len(kept[t]) for t in TABLES}
    assert counts["customers"].total == 400 and all(c.in_subset for c in counts.values())
    assert {t.name: t.rows_read for t in result.tables} == {t: len(kept[t]) for t in TABLES}
    # The key tables are gone from the source connection when the run ends.
    assert not src.connect().execute("SELECT name FROM temp.sqlite_master").fetchall()
    again = run(demo_plan(ten_percent()), src, tgt)
    assert {t: ids(sqlite_query(tgt_path), t) for t in TABLES} == kept
    assert again.subset == result.subset


def test_a_committed_run_stands_when_its_key_tables_cannot_be_dropped(
    demo, monkeypatch, caplog
) -> None:
    """Dropping the subset's temporary key tables comes after the target's commit; failing
    there leaves them to the source session, and the run is the success it was."""
    src, tgt, src_path, tgt_path = demo
    original, counts = SubsetClosure._exec, SubsetClosure.counts
    filled: list[bool] = []

    def fail_drops(self, sql):  # type: ignore[no-untyped-def]
        if filled and sql.startswith("DROP TABLE"):  # the drops at the end, not those before
            raise sqlite3.OperationalError("disk I/O error")
        return original(self, sql)

    def counted(self):  # type: ignore[no-untyped-def]
        filled.append(True)
        return counts(self)

    monkeypatch.setattr(SubsetClosure, "_exec", fail_drops)
    monkeypatch.setattr(SubsetClosure, "counts", counted)
    result = run(demo_plan(ten_percent()), src, tgt)
    assert result.fk_ok and result.subset
    assert_whole(sqlite_query(src_path), sqlite_query(tgt_path))
    assert "stay on the source until its session ends (OperationalError)" in caplog.text


def test_another_workflow_key_samples_other_rows(demo) -> None:
    src, tgt, _, tgt_path = demo
    run(demo_plan(ten_percent(), secret=b"another-secret-0123456789abcdef!"), src, tgt)
    got = ids(sqlite_query(tgt_path), "customers")
    assert got == sampled_ids(list(range(1, 401)), b"another-secret-0123456789abcdef!", 10)
    assert got != sampled_ids(list(range(1, 401)), SECRET, 10)


def test_children_none_and_limited_per_relationship(demo) -> None:
    src, tgt, src_path, tgt_path = demo
    subset = ten_percent(
        relationships=(
            Relationship("", "addresses", ("customer_id",), "none"),
            Relationship("", "orders", ("customer_id",), "limited", 1),
        )
    )
    run(demo_plan(subset), src, tgt)
    q, s = sqlite_query(tgt_path), sqlite_query(src_path)
    assert ids(q, "addresses") == set()
    kept = ids(q, "customers")
    first = {
        r[0]
        for r in s("SELECT MIN(id) FROM orders GROUP BY customer_id")
        if r[0] in ids(s, "orders", f"WHERE customer_id IN ({','.join(map(str, kept))})")
    }
    assert ids(q, "orders") == first
    orders = ",".join(map(str, sorted(first)))
    assert ids(q, "payments") == ids(s, "payments", f"WHERE order_id IN ({orders})")


def test_a_default_of_at_most_n_children_per_parent(demo) -> None:
    """children "limited" with a limit holds for every relationship not listed."""
    src, tgt, src_path, tgt_path = demo
    subset = ten_percent(
        children="limited",
        limit=1,
        relationships=(Relationship("", "addresses", ("customer_id",), "none"),),
    )
    assert Subset.from_dict(subset.to_dict()) == subset
    run(demo_plan(subset), src, tgt)
    q, s = sqlite_query(tgt_path), sqlite_query(src_path)
    kept = ids(q, "customers")
    where = f"WHERE customer_id IN ({','.join(map(str, kept))})"
    assert ids(q, "orders") == {
        r[0] for r in s(f"SELECT MIN(id) FROM orders {where} GROUP BY customer_id")
    }
    assert ids(q, "addresses") == set()
    with pytest.raises(ValueError, match="limit of at least 1"):
        ten_percent(children="limited")


def test_a_row_count_and_a_condition(demo) -> None:
    src, tgt, src_path, tgt_path = demo
    subset = Subset(roots=(SubsetRoot("", "customers", where="id <= 200", rows=7),))
    result = run(demo_plan(subset), src, tgt)
    got = ids(sqlite_query(tgt_path), "customers")
    key = sample_key(SECRET)
    assert got == set(sorted(range(1, 201), key=lambda i: (sample_hash(key, [i]), i))[:7])
    assert {c.table: c.kept for c in result.subset}["customers"] == 7


def test_self_reference_keeps_the_chain_of_managers_and_ends(demo) -> None:
    src, tgt, src_path, tgt_path = demo
    s = sqlite_query(src_path)
    leaf = s(
        "SELECT e.id FROM employees e JOIN employees m ON m.id = e.manager_id "
        "WHERE m.manager_id IS NOT NULL ORDER BY e.id LIMIT 1"
    )[0][0]
    subset = Subset(roots=(SubsetRoot("", "employees", where=f"id = {leaf}"),))
    run(demo_plan(subset, tables=("employees",)), src, tgt)
    chain, at = set(), leaf
    while at is not None:
        chain.add(at)
        at = s(f"SELECT manager_id FROM employees WHERE id = {at}")[0][0]
    reports = set()
    frontier = {leaf}
    while frontier:  # children of downward rows: the leaf's own reports, and theirs
        got = {
            r[0]
            for r in s(
                f"SELECT id FROM employees WHERE manager_id IN ({','.join(map(str, frontier))})"
            )
        }
        frontier = got - reports
        reports |= got
    assert ids(sqlite_query(tgt_path), "employees") == chain | reports
    assert len(chain) >= 3


CYCLE = """
CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT, lead_id INTEGER REFERENCES people (id));
CREATE TABLE people (id INTEGER PRIMARY KEY, team_id INTEGER REFERENCES teams (id), name TEXT);
"""


def cycle_rows() -> list[str]:
    out = []
    for t in range(1, 21):
        out.append(f"INSERT INTO teams VALUES ({t}, 'team {t}', {t * 5})")
    for p in range(1, 101):
        out.append(f"INSERT INTO people VALUES ({p}, {(p - 1) // 5 + 1}, 'p{p}')")
    return out


def test_two_table_cycle_ends_and_stays_whole(tmp_path: Path) -> None:
    src_path, tgt_path = tmp_path / "c.db", tmp_path / "t.db"
    with sqlite3.connect(src_path) as db:
        db.executescript(CYCLE)
        for stmt in cycle_rows():
            db.execute(stmt)
    with sqlite3.connect(tgt_path) as db:
        db.executescript(CYCLE.replace(" REFERENCES people (id)", ""))
    src = get_dialect(ConnectionParams("sqlite", database=str(src_path)))
    tgt = get_dialect(ConnectionParams("sqlite", database=str(tgt_path)))
    try:
        subset = Subset(roots=(SubsetRoot("", "teams", where="id IN (3, 7)"),))
        result = run(demo_plan(subset, tables=("teams", "people")), src, tgt)
    finally:
        src.close()
        tgt.close()
    q = sqlite_query(tgt_path)
    assert ids(q, "teams") == {3, 7}
    assert ids(q, "people") == set(range(11, 16)) | set(range(31, 36))
    assert result.fk_ok


def test_preflight_names_what_cannot_be_subset(demo, tmp_path: Path) -> None:
    src, tgt, _, _ = demo
    bad = Subset(
        roots=(
            SubsetRoot("", "customers", where="nope = 1"),
            SubsetRoot("", "missing", percent=5),
        ),
        relationships=(Relationship("", "orders", ("status",), "none"),),
    )
    problems = {(p.table, p.rule) for p in preflight(demo_plan(bad), src, tgt)}
    assert problems == {
        ("customers", "subset_root"),
        ("missing", "subset_root"),
        ("orders", "subset_relationship"),
    }
    with pytest.raises(PreflightFailed):
        run(demo_plan(bad), src, tgt)
    assert ids(sqlite_query(Path(tgt.params.database)), "customers") == set()


def test_tables_not_linked_to_a_root_are_copied_whole(demo) -> None:
    src, tgt, src_path, tgt_path = demo
    subset = Subset(roots=(SubsetRoot("", "addresses", percent=50),), children="none")
    result = run(demo_plan(subset, tables=("customers", "addresses", "employees")), src, tgt)
    counts = {c.table: c for c in result.subset}
    assert not counts["employees"].in_subset
    assert (
        counts["employees"].kept
        == counts["employees"].total
        == len(ids(sqlite_query(src_path), "employees"))
    )
    assert ids(sqlite_query(tgt_path), "employees") == ids(sqlite_query(src_path), "employees")
    assert counts["customers"].kept < 400


def test_plan_snapshot_round_trips_the_subset() -> None:
    plan = demo_plan(
        ten_percent(relationships=(Relationship("", "orders", ("customer_id",), "limited", 2),))
    )
    again = Plan.from_dict(plan.to_dict(), secret=SECRET)
    assert again.subset == plan.subset
    assert "subset" not in demo_plan(None).to_dict()
    with pytest.raises(ValueError):
        SubsetRoot("", "customers", percent=10, rows=5)
    with pytest.raises(ValueError):
        Relationship("", "orders", ("customer_id",), "limited")


def test_t_sql_subset_statements() -> None:
    from masking.subset.sql import DIALECTS

    tsql = DIALECTS["tsql"]
    assert tsql.temp_prefix == "#" and not tsql.row_values
    assert tsql.first("SELECT t.[id] FROM [dbo].[c] t", "h, t.[id]", 5) == (
        "SELECT TOP (5) t.[id] FROM [dbo].[c] t ORDER BY h, t.[id]"
    )
    assert tsql.hash_expr("k1", ["t.[id]"]) == (
        "CONVERT(bigint, CONVERT(binary(4), "
        "HASHBYTES('MD5', CONVERT(varchar(max), CONCAT('k1', '|', t.[id])))))"
    )
    empty = "SELECT t.[id] FROM [dbo].[c] t WHERE 1 = 0"
    assert tsql.create_temp.format(name="#k", select=empty) == (
        f"SELECT * INTO #k FROM ({empty} UNION ALL {empty}) AS s"
    )
