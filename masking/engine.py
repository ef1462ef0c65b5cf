"""The engine's entry points for applications: open a connection, check a plan, run it.

`run` wraps the pipeline with what a run owns besides rows: the target tables the plan asks it
to create are created inside its failure handling and dropped again if the run fails or is
cancelled, so every way out of `run` leaves the target as it was."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from masking import pipeline
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams, Dialect
from masking.pipeline import RunResult
from masking.plan import Plan
from masking.progress import Progress
from masking.targets import create_missing, drop_created, run_tables, table_label


def connect(params: ConnectionParams) -> Dialect:
    """An open-on-demand connection of the dialect `params` names (close it, or use `with`)."""
    return get_dialect(params)


def run(
    plan: Plan,
    source: Dialect,
    target: Dialect,
    progress: Progress | None = None,
    *,
    create_targets: Iterable[Sequence[str]] = (),
    **options,
) -> RunResult:
    """Create the missing target tables listed in `create_targets` ((source schema, source
    table, target schema, target table) each), then run the plan (see pipeline.run).

    On any failure the tables this call created are dropped, and the exception carries their
    labels in `dropped_tables` (empty when nothing was dropped). The result lists them in
    `created_tables`."""
    created: list[tuple[str, str]] = []
    target.prepare_load()  # while the missing tables are created (see pipeline.run)
    try:
        create_missing(source, target, create_targets, created, run_tables=run_tables(plan))
        result = pipeline.run(plan, source, target, progress, **options)
    except BaseException as exc:
        exc.dropped_tables = drop_created(target, created)  # type: ignore[attr-defined]
        raise
    return replace(result, created_tables=tuple(table_label(*t) for t in created))
