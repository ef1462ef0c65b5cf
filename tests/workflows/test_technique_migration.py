"""Migration 0004 renames the stored key `pii_attribute` to `technique`, and back."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("workflows", "0003_workflow_leak_policy")]
AFTER = [("workflows", "0004_column_mapping_technique")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _stored(apps):
    TableMapping = apps.get_model("workflows", "TableMapping")
    return TableMapping.objects.get().column_mappings


def test_column_mapping_key_renamed_both_ways(owner, demo_conns):
    source_conn, target_conn = demo_conns
    old_apps = _migrate(BEFORE)
    Workflow = old_apps.get_model("workflows", "Workflow")
    TableMapping = old_apps.get_model("workflows", "TableMapping")
    w = Workflow.objects.create(
        name="w",
        source_connection_id=source_conn.pk,
        target_connection_id=target_conn.pk,
        created_by_id=owner.pk,
    )
    TableMapping.objects.create(
        workflow=w,
        source_table="customers",
        target_table="customers",
        column_mappings=[
            {"source_column": "email", "pii_attribute": "email", "params": {}},
            {"source_column": "id", "pii_attribute": "keep"},
        ],
    )
    new = _stored(_migrate(AFTER))
    assert new == [
        {"source_column": "email", "technique": "email", "params": {}},
        {"source_column": "id", "technique": "keep"},
    ]
    back = _stored(_migrate(BEFORE))
    assert [r.get("pii_attribute") for r in back] == ["email", "keep"]
    assert not any("technique" in r for r in back)
    executor = MigrationExecutor(connection)  # every app at its last migration again
    executor.migrate(executor.loader.graph.leaf_nodes())
