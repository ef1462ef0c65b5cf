"""Staged runs on real databases: units across processes, one publish, resume, failures that
leave the target as it was."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest

from masking.dialects import get_dialect
from masking.errors import Cancelled, MaskingError
from masking.pipeline import run
from masking.staged import (
    SnapshotHolder,
    discard,
    finish,
    pending_units,
    prepare,
    run_staged,
    run_unit,
)
from tests.live import staged_schema as S

pytestmark = pytest.mark.live

UNIT_ROWS = 1_500  # items: 12,000 rows -> 8 units; 16 units in all


def _source(kind, request):
    params = request.getfixturevalue("pg_db" if kind == "postgresql" else "mariadb_db")
    src = get_dialect(params)
    S.create(src, seed=True)
    return params, src, "public" if kind == "postgresql" else params.database


def _target(pg_db_factory):
    params = pg_db_factory()
    tgt = get_dialect(params)
    S.create(tgt, seed=False)
    return params, tgt


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_two_processes_equal_a_one_unit_run(kind, request, pg_db_factory):
    src_params, src, schema = _source(kind, request)
    (one_params, one), (many_params, many), (_, plain) = (_target(pg_db_factory) for _ in range(3))
    plan = S.plan(schema, "public")

    whole = run_staged(plan, src, one, "whole", unit_rows=10**9)
    assert whole.rows_processed == sum(S.SIZES.values())
    expected = S.checksums(one)
    assert expected["items"][0] == S.SIZES["items"]

    holder = SnapshotHolder(src) if src.read_consistency == "snapshot" else None
    try:
        layout = prepare(plan, src, many, "split", unit_rows=UNIT_ROWS, snapshot=holder)
        assert len([u for u in layout.units if u.table.split(".")[-1] == "items"]) >= 8
        assert layout.read_consistency == ("snapshot" if kind == "postgresql" else "unit")
        assert [lvl[0].level for lvl in layout.levels()] == [0, 1, 2]
        indexes = [u.index for u in layout.units]
        halves = [indexes[0::2], indexes[1::2]]
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(2, mp_context=ctx) as pool:
            futures = [
                pool.submit(S.worker, src_params, many_params, plan.to_dict(), layout.to_dict(), h)
                for h in halves
            ]
            done = [f.result() for f in futures]
        assert len({pid for pid, _ in done}) == 2  # both processes ran units
        assert sorted(i for _, ran in done for i in ran) == indexes
        assert pending_units(layout, many) == []
        assert S.checksums(many) == {t: (0, S.checksums(many)[t][1]) for t in S.TABLES}
        result = finish(plan, layout, src, many)
    finally:
        if holder is not None:
            holder.close()
    assert S.checksums(many) == expected
    assert result.rows_processed == whole.rows_processed
    assert result.fk_ok and all(c.ok for c in result.leak_report)
    assert {c.table.split(".")[-1] for c in result.leak_report} == {"customers", "payments"}
    assert 0 < result.lock_seconds < result.duration
    assert S.staging_left(many) == []

    run(plan, src, plain)  # the one-transaction pipeline writes the same rows
    assert S.checksums(plain) == expected
    for d in (src, one, many, plain):
        d.close()


def test_resume_runs_only_incomplete_units(pg_db, pg_db_factory):
    src = get_dialect(pg_db)
    S.create(src, seed=True)
    (_, ref), (_, tgt) = _target(pg_db_factory), _target(pg_db_factory)
    plan = S.plan("public", "public")
    run_staged(plan, src, ref, "ref", unit_rows=UNIT_ROWS)
    before = S.checksums(tgt)

    layout = prepare(plan, src, tgt, "r1", unit_rows=UNIT_ROWS)
    first = [u.index for u in layout.units[:5]]
    prepared = []
    tgt.prepare_load = lambda: prepared.append(1)  # type: ignore[method-assign]
    done = [run_unit(plan, layout, i, src, tgt) for i in first]
    assert len(prepared) == len(first)
    # a complete unit delivered again is not read again: the ledger's figures come back, and
    # nothing is prepared to load (a SQL Server target would log in its bulk-copy sessions)
    again = run_unit(plan, layout, first[0], _Unreadable(src), tgt)
    assert len(prepared) == len(first)
    del tgt.prepare_load
    assert again.rows_read == done[0].rows_read > 0
    assert (again.index, again.rows_masked, again.seconds) == (first[0], done[0].rows_masked, 0.0)
    # The worker dies here. The target is untouched, the staged units are kept.
    assert S.checksums(tgt) == before
    layout2 = type(layout).from_dict(layout.to_dict())
    assert layout2.matches(plan)
    assert not layout2.matches(plan.__class__(**{**plan.__dict__, "key_version": "s2"}))
    rest = pending_units(layout2, tgt)
    assert [u.index for u in rest] == [u.index for u in layout.units[5:]]
    for unit in rest:
        run_unit(plan, layout2, unit.index, src, tgt)
    result = finish(plan, layout2, src, tgt)
    assert result.rows_processed == sum(S.SIZES.values())
    assert S.checksums(tgt) == S.checksums(ref)
    assert S.staging_left(tgt) == []
    for d in (src, ref, tgt):
        d.close()


class _Unreadable:
    """A source whose reads fail; everything else is the real dialect's."""

    def __init__(self, dialect):  # type: ignore[no-untyped-def]
        self._dialect = dialect

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        if name in ("read_batches", "snapshot_reads"):
            raise AssertionError(f"the source was read ({name})")
        return getattr(self._dialect, name)


class _CancelAfter:
    def __init__(self, calls: int):
        self.calls = calls

    def update(self, update) -> None:
        pass

    def should_cancel(self) -> bool:
        self.calls -= 1
        return self.calls < 0


def test_cancel_during_load_leaves_target_and_no_staging(pg_db, pg_db_factory):
    src = get_dialect(pg_db)
    S.create(src, seed=True)
    _, tgt = _target(pg_db_factory)
    tgt.execute("INSERT INTO customers VALUES (1, 'kept@example.org', 'Kept', 'Here')")
    before = S.checksums(tgt)
    with pytest.raises(Cancelled):
        run_staged(
            S.plan("public", "public"),
            src,
            tgt,
            "c1",
            unit_rows=UNIT_ROWS,
            progress=_CancelAfter(12),
        )
    assert S.checksums(tgt) == before
    assert S.staging_left(tgt) == []


def test_constraint_failure_in_publish_rolls_back(pg_db, pg_db_factory):
    src = get_dialect(pg_db)
    S.create(src, seed=True)
    _, tgt = _target(pg_db_factory)
    # Append mode onto a row whose key the masked copy repeats: the publish must fail.
    tgt.execute("INSERT INTO customers VALUES (7, 'kept@example.org', 'Kept', 'Here')")
    tgt.execute("INSERT INTO orders VALUES (1, 7, 'kept', 1.00)")
    before = S.checksums(tgt)
    plan = S.plan("public", "public", target_mode="append")
    layout = prepare(plan, src, tgt, "p1", unit_rows=UNIT_ROWS)
    for unit in layout.units:
        run_unit(plan, layout, unit.index, src, tgt)
    with pytest.raises(MaskingError) as info:
        finish(plan, layout, src, tgt)
    assert "kept" not in str(info.value) and "person" not in str(info.value)
    assert S.checksums(tgt) == before
    assert S.staging_left(tgt) == []
    discard(layout, tgt)  # nothing left to drop: no error either


def test_snapshot_hides_rows_written_after_the_plan(pg_db, pg_db_factory):
    src = get_dialect(pg_db)
    S.create(src, seed=True)
    _, tgt = _target(pg_db_factory)
    plan = S.plan("public", "public")
    with SnapshotHolder(src) as holder:
        layout = prepare(plan, src, tgt, "s1", unit_rows=UNIT_ROWS, snapshot=holder)
        other = get_dialect(pg_db)
        other.execute("INSERT INTO customers VALUES (999999, 'late@example.org', 'Late', 'X')")
        other.close()
        for unit in layout.units:
            run_unit(plan, layout, unit.index, src, tgt)
        result = finish(plan, layout, src, tgt)
    assert result.rows_processed == sum(S.SIZES.values())
    assert S.checksums(tgt)["customers"][0] == S.SIZES["customers"]


def test_orphans_found_when_keys_are_restored_roll_back(pg_db, pg_db_factory):
    import dataclasses

    src = get_dialect(pg_db)
    S.create(src, seed=True)
    _, tgt = _target(pg_db_factory)
    tgt.execute("INSERT INTO customers VALUES (1, 'kept@example.org', 'Kept', 'Here')")
    before = S.checksums(tgt)
    keys = "SELECT count(*) FROM pg_constraint WHERE contype = 'f'"
    assert tgt._rows(keys)[0][0] == 3
    plan = S.plan("public", "public")
    tables = tuple(
        dataclasses.replace(t, row_filter="id > 10") if t.source_table == "customers" else t
        for t in plan.tables
    )
    with pytest.raises(MaskingError) as info:
        run_staged(dataclasses.replace(plan, tables=tables), src, tgt, "o1", unit_rows=UNIT_ROWS)
    assert "foreign key" in str(info.value)
    assert S.checksums(tgt) == before
    assert S.staging_left(tgt) == []
    assert tgt._rows(keys)[0][0] == 3  # every foreign key is back
