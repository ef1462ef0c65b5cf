"""Tables a run created for its workflow are dropped again when the run fails or is cancelled,
on targets whose DDL is transactional (PostgreSQL) and on one where it commits (MariaDB)."""

from __future__ import annotations

import pytest

from apps.connections.models import Connection
from apps.executions import services
from apps.executions.models import Execution, ExecutionStatus
from masking.dialects import get_dialect
from tests.executions.scenario import CUSTOMER_RULES, make_source
from tests.live.fixtures import mariadb_db, mariadb_db_factory, pg_db, pg_db_factory  # noqa: F401
from tests.workflows.factories import TableMappingFactory, WorkflowFactory

pytestmark = [pytest.mark.django_db, pytest.mark.live]


def workflow_into(params, schema: str, tmp_path, owner, settings):
    settings.DATA_DIR = tmp_path
    src = make_source(tmp_path / "source.sqlite3", 30, 60)
    source = Connection.objects.create(
        name="lite-src", dialect="sqlite", database=str(src), created_by=owner
    )
    target = Connection.objects.create(
        name="live-tgt",
        dialect=params.dialect,
        host=params.host,
        port=params.port,
        database=params.database,
        username=params.username,
        created_by=owner,
    )
    if params.password:
        target.set_password(params.password)
        target.save()
    workflow = WorkflowFactory(
        created_by=owner, source_connection=source, target_connection=target, batch_size=5
    )
    for position, (table, rules) in enumerate([("customers", CUSTOMER_RULES), ("orders", [])]):
        TableMappingFactory(
            workflow=workflow,
            position=position,
            source_table=table,
            target_schema=schema,
            target_table=table,
            column_mappings=rules,
            copy_unmapped=True,
            create_target=True,
        )
    return workflow


def tables_in(params, schema: str) -> set[str]:
    with get_dialect(params) as d:
        return {t.name for t in d.list_tables(schema)}


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_cancelled_run_drops_created_tables_then_a_rerun_creates_them(
    kind, request, tmp_path, owner, settings
):
    params = request.getfixturevalue("pg_db" if kind == "postgresql" else "mariadb_db")
    schema = "public" if kind == "postgresql" else params.database
    workflow = workflow_into(params, schema, tmp_path, owner, settings)
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    seen = []

    def cancel_once(update):
        if not seen:
            seen.append(tables_in(params, schema))
            services.execution_cancel(execution=Execution.objects.get(pk=execution.pk), by=owner)

    done = services.execution_run(execution_id=execution.pk, on_update=cancel_once)
    assert seen == [{"customers", "orders"}]  # they existed while the run went on
    assert done.status == ExecutionStatus.CANCELLED
    assert tables_in(params, schema) == set()
    assert f"dropped: {schema}.orders, {schema}.customers" in done.error_message

    again = services.execution_run(
        execution_id=services.execution_start(workflow=workflow, by=owner, enqueue=False).pk
    )
    assert again.status == ExecutionStatus.SUCCESS, again.error_message
    assert tables_in(params, schema) == {"customers", "orders"}
    assert sorted(again.report["created_tables"]) == [f"{schema}.customers", f"{schema}.orders"]
