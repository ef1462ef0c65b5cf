"""A run in units: prepare → run_unit (any worker, any order, any number of times) → finish.

prepare() checks the plan, plans the units, creates the staging tables and returns a Layout
(JSON-able, kept with the execution). run_unit() reads, masks and stages one unit in a target
transaction of its own, which also records the unit as complete: a worker that dies leaves
either the whole unit or nothing. finish() verifies the staged data (counts, uniqueness across
units), then publishes in one target transaction, parents first, checking foreign keys and
leaks inside it; the target is locked for that transaction only (RunResult.lock_seconds).
discard() drops the staging. A run resumed with the same plan hash and key version keeps its
complete units (pending_units) and runs only the others.

Reads: on PostgreSQL the units read one snapshot exported by prepare(), held open by the
caller's SnapshotHolder; on MariaDB/MySQL each unit reads a consistent snapshot of its own;
elsewhere no snapshot is shared (Layout.read_consistency says which)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from contextlib import closing
from typing import Any

from masking.checks import Problem, check
from masking.dialects.base import Dialect
from masking.errors import Cancelled, MaskingError, PreflightFailed, ValidationFailed
from masking.extract import ResolvedTable, extract_batches, load_order
from masking.layout import Layout, SnapshotHolder, UnitResult
from masking.leaks import LeakSampler
from masking.load import TableLoader, clear_tables, wrap_error
from masking.pipeline import RunResult, TableResult, _guaranteed_unique, check_links
from masking.pipeline import _verify_foreign_keys as verify_foreign_keys
from masking.plan import Plan, plan_hash
from masking.progress import NullProgress, Progress, before_commit
from masking.staging import (
    check_staged,
    complete_units,
    create_ledger,
    create_stage,
    drop_tables,
    ledger_name,
    record_unit,
    stage_info,
    stage_name,
    staged_unit,
    staging_tables,
)
from masking.targets import create_missing, drop_created, run_tables, table_label
from masking.transform import build_maskers, mask_batch
from masking.units import DEFAULT_UNIT_ROWS, Unit, for_unit, plan_units
from masking.validate import BatchValidator

LEAK_SAMPLE = 1000


_CACHE: dict[str, tuple[list[ResolvedTable], dict]] = {}


def _resolved(plan: Plan, source: Dialect, target: Dialect) -> tuple[list[ResolvedTable], dict]:
    """Introspection and maskers once per process and plan, not once per unit."""
    key = f"{plan_hash(plan)}:{plan.key_version}:{id(source)}:{id(target)}"
    if key not in _CACHE:
        resolved, problems = check(plan, source, target).split()
        if plan.subset is not None:  # its key tables live on one source connection
            problems.append(
                Problem("", "", "subset", "a subset run is not split into units: run it whole")
            )
        if problems:
            raise PreflightFailed(problems)
        tdef = target.capabilities.default_schema
        order = load_order(resolved, tdef)
        _CACHE.clear()
        _CACHE[key] = (order, build_maskers(plan, order, tdef))
    return _CACHE[key]


def prepare(
    plan: Plan,
    source: Dialect,
    target: Dialect,
    run_id: str,
    *,
    unit_rows: int = DEFAULT_UNIT_ROWS,
    snapshot: SnapshotHolder | None = None,
    create_targets: Iterable[Sequence[str]] = (),
) -> Layout:
    """`create_targets`: the missing target tables to create first ((source schema, source
    table, target schema, target table)), owned by the run until it publishes."""
    created: list[tuple[str, str]] = []
    try:
        create_missing(source, target, create_targets, created, run_tables=run_tables(plan))
        return _prepare(plan, source, target, run_id, unit_rows, snapshot, tuple(created))
    except BaseException as exc:
        exc.dropped_tables = drop_created(target, created)  # type: ignore[attr-defined]
        raise


def _prepare(
    plan: Plan,
    source: Dialect,
    target: Dialect,
    run_id: str,
    unit_rows: int,
    snapshot: SnapshotHolder | None,
    created: tuple[tuple[str, str], ...],
) -> Layout:
    order, _ = _resolved(plan, source, target)
    tdef = target.capabilities.default_schema
    token = snapshot.token if snapshot is not None else None
    with source.snapshot_reads(token):
        units, totals = plan_units(source, order, tdef, unit_rows)
    schema = (order[0].target.schema if order else "") or tdef
    stages = {rt.label: stage_name(run_id, n) for n, rt in enumerate(order)}
    copies: dict[str, str] = {}
    if plan.target_mode == "truncate" and order:
        # units then load straight into copies of the tables, which the publish swaps in
        found = target.swap_signatures([rt.target for rt in order])
        copies = {rt.label: sig for rt, sig in zip(order, found or (), strict=False)}
    layout = Layout(
        run_id,
        schema,
        plan_hash(plan),
        plan.key_version,
        tuple(units),
        stages,
        totals,
        token,
        "snapshot" if token else ("unit" if source.read_consistency == "unit" else ""),
        created_tables=created,
        copies=copies,
    )
    try:
        for rt in order:
            create_stage(target, rt, stages[rt.label], copy=rt.label in copies)
        create_ledger(target, schema, run_id)
    except BaseException:
        drop_tables(target, layout.schema, staging_tables(target, layout.schema, run_id))
        raise
    return layout


def pending_units(layout: Layout, target: Dialect) -> list[Unit]:
    done = complete_units(target, layout.schema, layout.run_id)
    return [u for u in layout.units if u.index not in done]


def run_unit(
    plan: Plan,
    layout: Layout,
    index: int,
    source: Dialect,
    target: Dialect,
    progress: Progress | None = None,
) -> UnitResult:
    """Read, mask and stage one unit. A unit the ledger lists is staged already (an attempt
    that committed, delivered again): it is not read again, and its recorded figures return."""
    progress = progress or NullProgress()
    unit = layout.units[index]
    order, maskers = _resolved(plan, source, target)
    rt = next(r for r in order if r.label == unit.table)
    started = time.monotonic()
    stage = stage_info(target, rt, layout.stages[rt.label])
    try:
        done = staged_unit(target, stage.schema, ledger_name(layout.run_id), unit.index)
    except Exception as exc:
        raise wrap_error(exc, table=rt.label, stage="unit") from exc
    if done is not None:
        return UnitResult(unit.index, rt.label, done[0], done[1], 0.0)
    target.prepare_load()  # e.g. a bulk-copy login, while the first rows are read and masked
    columns = list(rt.target_columns)
    sources = {r.target_column: (r.source_column, r.technique) for r in rt.rules if r.masked}
    validator = BatchValidator(rt, _guaranteed_unique(rt, maskers), sources)
    masked = any(label == rt.label for label, _ in maskers)
    rows = 0
    try:
        with target.transaction(), source.snapshot_reads(layout.snapshot):
            with (
                TableLoader(target, rt.label, stage, columns) as loader,
                closing(
                    extract_batches(source, for_unit(source, rt, unit), plan.batch_size)
                ) as batches,
            ):
                for batch_no, batch in enumerate(batches, start=1):
                    if progress.should_cancel():
                        raise Cancelled(rt.label)
                    out = mask_batch(rt, batch, maskers)
                    out = validator.conform(out, rows, batch_no)
                    validator.check(out, rows, batch_no, batch)
                    loader.write(out, batch_no)
                    rows += batch.num_rows
                validator.finish()
            if loader.rows_written != rows:
                raise ValidationFailed(
                    rt.label, "", "", "row_count", f"read {rows} rows, staged {loader.rows_written}"
                )
            record_unit(
                target,
                stage.schema,
                ledger_name(layout.run_id),
                unit.index,
                rows,
                rows if masked else 0,
            )
    except MaskingError:
        raise
    except Exception as exc:
        raise wrap_error(exc, table=rt.label, stage="unit") from exc
    finally:
        validator.close()
    return UnitResult(unit.index, rt.label, rows, rows if masked else 0, time.monotonic() - started)


def finish(
    plan: Plan,
    layout: Layout,
    source: Dialect,
    target: Dialect,
    *,
    started: float | None = None,
    leak_sample: int = LEAK_SAMPLE,
    progress: Progress | None = None,
) -> RunResult:
    """Verify the staged units and publish them in one target transaction; the staging is
    dropped whatever happens (after a publish, a DROP that fails only sets staging_left).
    `started`: time.time() when the run began (for its duration); `progress`: its
    before_commit(), if any, is called just before the publish commits."""
    t0 = time.time() if started is None else started
    order, maskers = _resolved(plan, source, target)
    tdef = target.capabilities.default_schema
    try:
        done = complete_units(target, layout.schema, layout.run_id)
        missing = [u.index for u in layout.units if u.index not in done]
        if missing:
            raise ValidationFailed("", "", "", "units", f"{len(missing)} unit(s) not complete")
        stages = {rt.label: stage_info(target, rt, layout.stages[rt.label]) for rt in order}
        counts = []
        for rt in order:
            mine = [done[u.index] for u in layout.units if u.table == rt.label]
            rows, masked = sum(r for r, _ in mine), sum(m for _, m in mine)
            unique = [
                c
                for c in _unique_columns(rt)
                if not (target.publish_enforces_keys and rt.target.is_unique(c))
            ]
            check_staged(target, rt, stages[rt.label], rows, unique, plan.target_mode == "append")
            counts.append((rt.label, rows, masked))
        samplers = _leak_samplers(plan, layout, source, order, maskers, leak_sample)
        swap = _prepared_swap(plan, layout, target, order, stages)
        lock_start = time.monotonic()
        with target.transaction():
            swapped = swap is not None and not swap.reason and target.swap_in(swap)
            fk_ok = True  # a swap's foreign keys were checked as they were added
            if not swapped:
                fk_ok = _insert_select(plan, target, order, stages, tdef)
            links = check_links(source, target, order)
            leaks = [c for s in samplers for c in s.check(target)]
            bad = [c for c in leaks if not c.ok]
            if bad and plan.leak_action == "fail":
                names = ", ".join(f"{c.table}.{c.column}" for c in bad)
                raise ValidationFailed(
                    bad[0].table,
                    bad[0].column,
                    "",
                    "leak_check",
                    f"masked values equal to their source in: {names}",
                )
            before_commit(progress)
        lock = time.monotonic() - lock_start
        path = _publish_path(swap, swapped)
        results = [TableResult(t, rows, rows, m, 0.0, 0.0, path) for t, rows, m in counts]
    except BaseException as exc:
        exc.dropped_tables = discard(layout, target)  # type: ignore[attr-defined]
        raise
    try:
        discard(layout, target, published=True)
        staging_left = False
    except Exception:  # noqa: BLE001 - the publish committed: losing it to a failed DROP is worse
        staging_left = True
    total = sum(r.rows_read for r in results)
    return RunResult(
        results,
        total,
        sum(r.rows_masked for r in results),
        leaks,
        fk_ok and not links,
        time.time() - t0,
        plan_hash(plan),
        lock_seconds=lock,
        created_tables=tuple(table_label(*t) for t in layout.created_tables),
        staging_left=staging_left,
        broken_links=links,
    )


def _prepared_swap(
    plan: Plan, layout: Layout, target: Dialect, order: list[ResolvedTable], stages: dict
) -> Any:
    """A truncate-mode run: the replacements of its tables, built outside the publish (None,
    or a reason, when the database or a table allows no swap)."""
    if plan.target_mode != "truncate" or not order:
        return None
    try:
        return target.prepare_swap(
            [rt.target for rt in order],
            [stages[rt.label] for rt in order],
            [rt.target_columns for rt in order],
            [layout.copies.get(rt.label) for rt in order],
        )
    except Exception as exc:
        raise wrap_error(exc, table="", stage="publish") from exc


def _insert_select(
    plan: Plan, target: Dialect, order: list[ResolvedTable], stages: dict, tdef: str
) -> bool:
    """The publish without a swap, inside its transaction: every staged row moved into its
    table by the server, foreign keys checked once after."""
    try:
        deferred = target.defer_foreign_keys([rt.target for rt in order])
    except Exception as exc:
        raise wrap_error(exc, table="", stage="publish") from exc
    if plan.target_mode == "truncate":
        clear_tables(target, [(rt.label, rt.target) for rt in reversed(order)])
    for rt in order:
        try:
            target.publish_from(stages[rt.label], rt.target, rt.target_columns)
        except Exception as exc:
            raise wrap_error(exc, table=rt.label, stage="publish") from exc
    target.restore_foreign_keys(deferred)
    return verify_foreign_keys(target, order, tdef)


def _publish_path(swap: Any, swapped: bool) -> str:
    """How the rows reached the target, as the execution shows it."""
    if swapped:
        return "staged, swapped in"
    why = getattr(swap, "reason", "") or ("a table changed during the run" if swap else "")
    return "staged, INSERT … SELECT" + (f" (no swap: {why})" if why else "")


def _unique_columns(rt: ResolvedTable) -> list[str]:
    """Masked target columns that must stay unique across the whole table."""
    return [r.target_column for r in rt.rules if r.masked and rt.is_unique_target(r)]


def _leak_samplers(
    plan: Plan,
    layout: Layout,
    source: Dialect,
    order: list[ResolvedTable],
    maskers: dict,
    limit: int,
) -> list[LeakSampler]:
    """Re-read a sample of each table, spread over its units, and mask it again: the check
    then compares those source values with what the target holds after the publish."""
    out = []
    for rt in order:
        masked = [m for (label, _), m in maskers.items() if label == rt.label]
        units = [u for u in layout.units if u.table == rt.label]
        sampler = LeakSampler(rt, masked, limit, limit, plan.leak_max_share)
        if masked:
            per = max(1, limit // max(1, len(units)))
            seen = 0
            for unit in units:
                with source.snapshot_reads(layout.snapshot):
                    with closing(extract_batches(source, for_unit(source, rt, unit), per)) as b:
                        first = next(b, None)  # closing ends its read
                if first is None:
                    continue
                sampler.observe(first, mask_batch(rt, first, maskers), seen)
                seen += first.num_rows
        out.append(sampler)
    return out


def discard(layout: Layout, target: Dialect, *, published: bool = False) -> list[str]:
    """Drop the run's staging tables (and its ledger), and, unless it published, the target
    tables it created (those still empty). Returns the labels of the created tables dropped."""
    drop_tables(target, layout.schema, staging_tables(target, layout.schema, layout.run_id))
    return [] if published else drop_created(target, list(layout.created_tables))


def run_staged(
    plan: Plan,
    source: Dialect,
    target: Dialect,
    run_id: str,
    *,
    unit_rows: int = DEFAULT_UNIT_ROWS,
    progress: Progress | None = None,
    leak_sample: int = LEAK_SAMPLE,
) -> RunResult:
    """The whole staged run in this process, unit after unit (for the CLI, tests, benches)."""
    started = time.time()
    holder = SnapshotHolder(source) if source.read_consistency == "snapshot" else None
    try:
        layout = prepare(plan, source, target, run_id, unit_rows=unit_rows, snapshot=holder)
        try:
            for unit in layout.units:
                run_unit(plan, layout, unit.index, source, target, progress)
        except BaseException:
            discard(layout, target)
            raise
        return finish(plan, layout, source, target, started=started, leak_sample=leak_sample)
    finally:
        if holder is not None:
            holder.close()


__all__ = [
    "Layout",
    "SnapshotHolder",
    "UnitResult",
    "discard",
    "finish",
    "pending_units",
    "prepare",
    "run_staged",
    "run_unit",
]
