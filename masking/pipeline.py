"""The run: preflight, then extract → mask → validate → load per table in one target transaction,
then verification (row counts, foreign keys, leak check) before the commit.

Verification happens inside the transaction on purpose: a run whose output fails a check is
rolled back like any other failure, so the target only ever holds a verified copy.

Memory: at most one batch being masked and two read ahead are held at a time. What grows with
the table is bounded and small: run-wide uniqueness keeps an 8-byte hash per row of each
single-column key (plus what the technique's own collision tracking keeps), and the leak check
keeps at most `leak_sample` rows per table."""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack, closing
from dataclasses import dataclass, field, replace

from masking.checks import check
from masking.dialects.base import Dialect
from masking.errors import (
    Cancelled,
    MaskingError,
    PreflightFailed,
    ValidationFailed,
)
from masking.extract import (
    ResolvedTable,
    count_source_rows,
    extract_batches,
    load_order,
)
from masking.leaks import LeakCheck, LeakSampler
from masking.load import TableLoader, clear_tables, count_target_rows, wrap_error
from masking.plan import Plan, plan_hash
from masking.progress import NullProgress, Progress, ProgressUpdate, Throttle, before_commit
from masking.subset.engine import SubsetCount, closure_for
from masking.transform import build_maskers, mask_batch
from masking.validate import BatchValidator, BrokenLink, broken_links, orphan_counts

logger = logging.getLogger(__name__)

LEAK_SAMPLE = 1000


@dataclass(frozen=True)
class TableResult:
    name: str
    rows_read: int
    rows_written: int
    rows_masked: int
    seconds: float
    rows_per_s: float
    # How the rows went in (Dialect.load_path): e.g. "bulk copy", or a fallback with its reason.
    load_path: str = ""


@dataclass(frozen=True)
class RunResult:
    tables: list[TableResult]
    rows_processed: int
    rows_masked: int
    leak_report: list[LeakCheck]
    fk_ok: bool
    duration: float
    plan_hash: str = ""  # fingerprint of the plan snapshot that produced this result
    subset: list[SubsetCount] = field(default_factory=list)  # rows kept per table, if subset
    # Seconds the target's tables were locked by the run's write transaction: the publish of a
    # staged run, the whole load otherwise (0.0: not measured).
    lock_seconds: float = 0.0
    created_tables: tuple[str, ...] = ()  # target tables the run created (engine.run)
    # A staged run that published but could not drop its staging afterwards (it is left for
    # the caller's clean-up; the published data stands).
    staging_left: bool = False
    # The source's relationships the copy breaks where the target enforces none (fk_ok False).
    broken_links: tuple[BrokenLink, ...] = ()


def run(
    plan: Plan,
    source: Dialect,
    target: Dialect,
    progress: Progress | None = None,
    *,
    leak_sample: int = LEAK_SAMPLE,
) -> RunResult:
    """Mask the plan's tables from `source` into `target` in one target transaction.

    Raises PreflightFailed before writing anything, Cancelled when `progress` asks to stop,
    TerminalError/TransientError otherwise; in every failure case the target is rolled back."""
    progress = progress or NullProgress()
    started = time.monotonic()
    target.prepare_load()  # e.g. a bulk-copy login, while the checks read the catalogs
    resolved, problems = check(plan, source, target).split()
    if problems:
        raise PreflightFailed(problems)
    tdef = target.capabilities.default_schema
    order = load_order(resolved, tdef)
    state = _RunState(plan, progress, order, started)
    stack = ExitStack()  # holds the subset's key tables on the source until the run ends
    subset: list[SubsetCount] = []
    committed = False
    try:
        maskers = build_maskers(plan, order, tdef)
        closure = closure_for(plan, source, order)
        if closure is not None:
            state.report("subset", force=True)
            reads = stack.enter_context(closure.computed())
            subset = closure.counts()
            order = state.order = [
                replace(rt, plan=replace(rt.plan, row_filter=reads[rt.label]))
                if rt.label in reads
                else rt
                for rt in order
            ]
        state.totals = {rt.label: count_source_rows(source, rt) for rt in order}
        with target.transaction():  # any exception below rolls the whole run back
            if plan.target_mode == "truncate":
                clear_tables(target, [(rt.label, rt.target) for rt in reversed(order)])
            samplers = [
                _load_table(plan, source, target, rt, index, maskers, state, leak_sample)
                for index, rt in enumerate(order, start=1)
            ]
            state.report("verify", force=True)
            fk_ok = _verify_foreign_keys(target, order, tdef)
            links = check_links(source, target, order)
            leaks = [c for s in samplers for c in s.check(target)]
            bad = [c for c in leaks if not c.ok]
            if bad and plan.leak_action == "fail":  # "flag": the report shows them in red
                names = ", ".join(f"{c.table}.{c.column}" for c in bad)
                raise ValidationFailed(
                    bad[0].table,
                    bad[0].column,
                    "",
                    "leak_check",
                    f"masked values equal to their source in: {names}",
                )
            before_commit(progress)
        committed = True
    except MaskingError:
        raise
    except Exception as exc:  # a driver, a progress callback, a masker: wrapped and scrubbed
        raise wrap_error(exc, table=state.current, stage="run") from exc
    finally:
        _release(stack, committed)
    return RunResult(
        state.results,
        state.rows_done,
        sum(t.rows_masked for t in state.results),
        leaks,
        fk_ok and not links,
        time.monotonic() - started,
        plan_hash(plan),
        subset,
        broken_links=links,
    )


def _release(stack: ExitStack, committed: bool) -> None:
    """Drop the subset's key tables from the source. After the commit a failure there must not
    turn a committed run into a failed one: they are temporary, and go with the session."""
    if not committed:
        stack.close()
        return
    try:
        stack.close()
    except Exception as exc:  # noqa: BLE001
        logger.warning(
            "the subset's key tables stay on the source until its session ends (%s)",
            type(exc).__name__,
        )


class _RunState:
    def __init__(self, plan: Plan, progress: Progress, order: list[ResolvedTable], started: float):
        self.plan, self.progress, self.order = plan, progress, order
        self.started = started
        self.totals: dict[str, int] = {}  # rows each table's filter selects in the source
        self.throttle = Throttle(1.0)
        self.results: list[TableResult] = []
        self.rows_done = 0
        self.table_rows = 0
        self.index = 0
        self.current = order[0].label if order else ""

    def report(self, phase: str, force: bool = False) -> None:
        if not self.throttle.ready(force):
            return
        elapsed = time.monotonic() - self.started
        self.progress.update(
            ProgressUpdate(
                table=self.current,
                table_index=self.index,
                table_count=len(self.order),
                table_rows_done=self.table_rows,
                table_rows_total=self.totals.get(self.current),
                rows_done=self.rows_done,
                rows_total=sum(self.totals.values()),
                rows_per_s=self.rows_done / elapsed if elapsed > 0 else 0.0,
                elapsed=elapsed,
                phase=phase,
            )
        )

    def cancel_point(self) -> None:
        if self.progress.should_cancel():
            raise Cancelled(self.current)


def _load_table(
    plan: Plan,
    source: Dialect,
    target: Dialect,
    rt: ResolvedTable,
    index: int,
    maskers: dict,
    state: _RunState,
    leak_sample: int,
) -> LeakSampler:
    state.index, state.current, state.table_rows = index, rt.label, 0
    state.report("start", force=True)
    state.cancel_point()
    t0 = time.monotonic()
    before = count_target_rows(target, rt.label, rt.target)
    sources = {r.target_column: (r.source_column, r.technique) for r in rt.rules if r.masked}
    validator = BatchValidator(
        rt, _guaranteed_unique(rt, maskers), sources, expected_rows=state.totals[rt.label]
    )
    if validator.unique and before:
        # Append mode: rows already there hold key values the new rows must not repeat.
        validator.seed_existing(
            target.read_batches(rt.target, list(validator.unique), plan.batch_size)
        )
    masked = [m for (label, _), m in maskers.items() if label == rt.label]
    sampler = LeakSampler(rt, masked, state.totals[rt.label], leak_sample, plan.leak_max_share)
    rows_read = 0
    try:
        with (
            TableLoader(target, rt.label, rt.target, rt.target_columns) as loader,
            closing(extract_batches(source, rt, plan.batch_size)) as batches,
        ):
            for batch_no, batch in enumerate(batches, start=1):
                state.cancel_point()
                out = mask_batch(rt, batch, maskers)
                out = validator.conform(out, rows_read, batch_no)
                validator.check(out, rows_read, batch_no, batch)
                sampler.observe(batch, out, rows_read)
                loader.write(out, batch_no)
                rows_read += batch.num_rows
                state.rows_done += batch.num_rows
                state.table_rows = rows_read
                state.report("load")
            validator.finish()
    finally:
        validator.close()
    after = count_target_rows(target, rt.label, rt.target)
    if after - before != rows_read or loader.rows_written != rows_read:
        raise ValidationFailed(
            rt.label, "", "", "row_count", f"read {rows_read} rows, target gained {after - before}"
        )
    seconds = time.monotonic() - t0
    state.results.append(
        TableResult(
            rt.label,
            rows_read,
            loader.rows_written,
            loader.rows_written if masked else 0,
            seconds,
            rows_read / seconds if seconds > 0 else 0.0,
            target.load_path(rt.target),
        )
    )
    state.report("table_done", force=True)
    return sampler


def _guaranteed_unique(rt: ResolvedTable, maskers: dict) -> set[str]:
    """Target columns unique by construction: unmasked copies of a source key (filters only
    drop rows). Masked columns are always remembered, whatever their technique promises."""
    return {
        rule.target_column
        for rule in rt.rules
        if (rt.label, rule.target_column) not in maskers and rt.source.is_unique(rule.source_column)
    }


def _verify_foreign_keys(target: Dialect, order: list[ResolvedTable], tdef: str) -> bool:
    loaded = {rt.key(tdef): rt for rt in order}
    for rt in order:
        try:
            counts = orphan_counts(target, rt, loaded, tdef)
        except Exception as exc:
            raise wrap_error(exc, table=rt.label, stage="foreign key check") from exc
        for cols, parent, n in counts:
            if n:
                raise ValidationFailed(
                    rt.label, cols, "", "foreign_key", f"{n} row(s) reference no row of {parent}"
                )
    return True


def check_links(
    source: Dialect, target: Dialect, order: list[ResolvedTable]
) -> tuple[BrokenLink, ...]:
    """The source's relationships in the copy, where the target has no foreign key to refuse
    a broken one: reported with the run (fk_ok False), not failed, as the target allows them."""
    try:
        return tuple(
            broken_links(
                target,
                order,
                source.capabilities.default_schema,
                target.capabilities.default_schema,
            )
        )
    except Exception as exc:
        raise wrap_error(exc, table="", stage="foreign key check") from exc


__all__ = ["LeakCheck", "RunResult", "TableResult", "run"]
