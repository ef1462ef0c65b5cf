"""Workflow → engine plan. The engine gets plain data; it never sees a model."""

from __future__ import annotations

from apps.workflows.models import Workflow
from masking import ColumnRule, Plan, Subset, TablePlan


def workflow_build_plan(*, workflow: Workflow) -> Plan:
    tables = []
    for mapping in workflow.mappings.order_by("position", "pk"):
        rules = tuple(
            ColumnRule(
                source_column=cm["source_column"],
                target_column=cm.get("target_column") or cm["source_column"],
                technique=cm.get("technique") or "keep",
                params=dict(cm.get("params") or {}),
                deterministic=bool(cm.get("deterministic", True)),
            )
            for cm in mapping.column_mappings
        )
        tables.append(
            TablePlan(
                source_schema=mapping.source_schema,
                source_table=mapping.source_table,
                target_schema=mapping.target_schema,
                target_table=mapping.target_table,
                columns=rules,
                row_filter=mapping.row_filter or None,
                copy_unmapped=mapping.copy_unmapped,
            )
        )
    return Plan(
        tables=tuple(tables),
        secret=workflow.get_secret(),
        seed=workflow.seed,
        locale=workflow.locale,
        target_mode=workflow.target_mode,
        batch_size=workflow.batch_size,
        key_version=workflow.key_version,
        leak_max_share=workflow.leak_max_share,
        leak_action=workflow.leak_action,
        subset=Subset.from_dict(workflow.subset),
    )


def workflow_tables_to_create(*, workflow: Workflow) -> list[tuple[str, str, str, str]]:
    """(source_schema, source_table, target_schema, target_table) for mappings marked
    create_target."""
    return [
        (m.source_schema, m.source_table, m.target_schema, m.target_table)
        for m in workflow.mappings.filter(create_target=True).order_by("position", "pk")
    ]
