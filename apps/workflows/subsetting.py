"""A workflow's subset: root tables with a condition and/or a keyed sample, and what to do with
children per relationship (masking.subset). Stored as JSON on the workflow, checked at save:
its shape, that each root is a mapped source table, and each condition against the row-filter
grammar and the table's columns."""

from __future__ import annotations

from typing import Any

from apps.workflows.introspect import Introspector
from apps.workflows.models import Workflow
from apps.workflows.validation import WorkflowInvalid
from masking import RowFilterError, Subset, validate_row_filter


def subset_clean(
    data: dict[str, Any], *, source, mappings: list[dict], instance: Workflow | None = None
) -> dict | None:
    """The subset to store (None: copy every row), or WorkflowInvalid naming what is wrong."""
    raw = data.get("subset", instance.subset if instance else None)
    if raw in (None, "", {}):
        return None
    if not isinstance(raw, dict):
        raise WorkflowInvalid([{"field": "subset", "issue": "Give an object with roots."}])
    try:
        subset = Subset.from_dict(raw)
    except (KeyError, TypeError, ValueError) as exc:
        issue = str(exc) if isinstance(exc, ValueError) else "A root or relationship is malformed."
        raise WorkflowInvalid([{"field": "subset", "issue": issue}]) from None
    if subset is None:
        return None
    mapped = {(m.get("source_schema") or "", m["source_table"]) for m in mappings}
    issues = []
    intro = Introspector(source)
    try:
        dialect = intro.dialect.capabilities.sqlglot_dialect
        for i, root in enumerate(subset.roots):
            field = f"subset.roots[{i}]"
            if (root.schema, root.table) not in mapped and not any(
                t.lower() == root.table.lower() and (not root.schema or s == root.schema)
                for s, t in mapped
            ):
                issues.append({"field": field, "issue": "The root must be a mapped table."})
                continue
            if root.where:
                info = intro.table(root.schema, root.table)
                try:
                    validate_row_filter(
                        root.where,
                        dialect=dialect,
                        columns={c.name for c in info.columns} if info else set(),
                    )
                except RowFilterError as exc:
                    issues.append({"field": f"{field}.where", "issue": str(exc)})
    finally:
        intro.close()
    if issues:
        raise WorkflowInvalid(issues)
    return subset.to_dict()


def workflow_subset_estimate(*, workflow: Workflow, subset: dict | None = None) -> dict:
    """Rows kept per table by the saved subset, or by `subset` (not yet saved), computed on
    the source. Counts and table names only, never a value."""
    from apps.connections.services import connection_open
    from apps.workflows.plans import workflow_build_plan
    from masking import Subset as SubsetSpec
    from masking import subset_estimate

    plan = workflow_build_plan(workflow=workflow)
    if subset is not None:
        try:
            spec = SubsetSpec.from_dict(subset)
        except (KeyError, TypeError, ValueError) as exc:
            issue = str(exc) if isinstance(exc, ValueError) else "The subset is malformed."
            raise WorkflowInvalid([{"field": "subset", "issue": issue}]) from None
        from dataclasses import replace

        plan = replace(plan, subset=spec)
    source = connection_open(workflow.source_connection)
    try:
        counts, problems = subset_estimate(plan, source)
    finally:
        source.close()
    if problems:
        raise WorkflowInvalid(
            [{"field": f"subset.{p.table}", "issue": p.message} for p in problems]
        )
    return {
        "tables": [
            {"table": c.table, "kept": c.kept, "total": c.total, "in_subset": c.in_subset}
            for c in counts
        ]
    }
