"""Start → run → finish on real SQLite files; failures, cancels, the reaper, idempotency."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.executions import services
from apps.executions.models import Execution, ExecutionStatus, Trigger
from tests.executions.scenario import SCHEMA, customer_rows, dump, make_workflow
from tests.factories import AdminFactory

pytestmark = pytest.mark.django_db

EXISTING = [(9001, "kept.row@target.test", "Kept", "Row", "Nowhere")]
# The target's city column is UNIQUE: the source repeats cities, so loading fails mid-table.
UNIQUE_CITY_SCHEMA = SCHEMA.replace("city VARCHAR(40))", "city VARCHAR(40) UNIQUE)")


def events(action: str, execution: Execution) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            action=action, resource_type="execution", resource_id=str(execution.pk)
        ).order_by("seq")
    )


def source_values(n: int = 50) -> set[str]:
    return {v for row in customer_rows(n) for v in row[1:] if isinstance(v, str) and len(v) >= 4}


def test_start_snapshots_plan_and_queues(scenario, owner, django_capture_on_commit_callbacks):
    workflow, _, _ = scenario
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        execution = services.execution_start(workflow=workflow, by=owner, trigger=Trigger.API)
    assert len(callbacks) == 1  # the task is queued only once the row is committed
    assert execution.status == ExecutionStatus.QUEUED
    assert execution.trigger == Trigger.API and execution.executed_by == owner
    assert [t["source_table"] for t in execution.plan_snapshot["tables"]] == ["customers", "orders"]
    assert "secret" not in json.dumps(execution.plan_snapshot)
    assert len(execution.plan_hash) == 64 and execution.key_version == workflow.key_version
    [start] = events("execution.start", execution)
    assert start.actor_id == owner.pk and start.details["workflow_id"] == workflow.pk


def test_run_succeeds_with_counts_tables_and_report(scenario, owner):
    workflow, src, tgt = scenario
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    done = services.execution_run(execution_id=execution.pk)
    assert done is not None and done.status == ExecutionStatus.SUCCESS, done.error_message
    assert (done.rows_processed, done.rows_masked) == (170, 50)
    assert done.started_at and done.finished_at and done.finished_at >= done.started_at
    tables = {t.target_table: t for t in done.tables.all()}
    assert (
        tables["main.customers"].rows_written == 50 and tables["main.customers"].rows_masked == 50
    )
    assert tables["main.orders"].rows_written == 120 and tables["main.orders"].rows_masked == 0
    assert {t.status for t in tables.values()} == {"success"}
    masked = dump(tgt, "customers")
    assert len(masked) == 50 and len(dump(tgt, "orders")) == 120
    assert not {r[1] for r in masked} & {
        r[1] for r in dump(src, "customers")
    }  # every email replaced
    report = done.report
    assert report["fk_ok"] is True and report["leak_ok"] is True
    assert report["plan_hash"] == done.plan_hash and report["key_version"] == workflow.key_version
    assert {(c["column"], c["technique"]) for c in report["leak_checks"]} == {
        ("email", "email"),
        ("first_name", "first_name"),
        ("last_name", "last_name"),
    }
    assert all(c["sampled"] > 0 and c["equal"] == 0 for c in report["leak_checks"])
    assert [t["table"] for t in report["tables"]] == ["main.customers", "main.orders"]
    [finish] = events("execution.finish", done)
    assert finish.details["rows_processed"] == 170 and finish.details["rows_masked"] == 50
    assert finish.details["duration_seconds"] >= 0 and finish.actor_id == owner.pk


@pytest.mark.parametrize("units", [False, True], ids=["one-task", "units"])
def test_a_run_opens_one_source_and_one_target_connection(scenario, owner, monkeypatch, units):
    """The drift check, the plan's check and the copy all go through the same two connections
    (a staged run's planning step, that is; each unit then opens its own)."""
    from apps.connections import services as connections

    workflow, _, _ = scenario
    opened: list[str] = []
    real = connections.dialect_open

    def counting(params):  # type: ignore[no-untyped-def]
        opened.append(params.database)
        return real(params)

    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    monkeypatch.setattr(connections, "dialect_open", counting)
    if units:
        from apps.executions.services.units import unit_begin

        assert unit_begin(execution_id=execution.pk)
    else:
        done = services.execution_run(execution_id=execution.pk)
        assert done is not None and done.status == ExecutionStatus.SUCCESS, done.error_message
    source, target = workflow.source_connection.database, workflow.target_connection.database
    assert sorted(opened) == sorted([source, target])


def test_task_runs_eagerly_after_commit(scenario, owner, django_capture_on_commit_callbacks):
    from config.celery import app

    workflow, _, tgt = scenario
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            execution = services.execution_start(workflow=workflow, by=owner)
    finally:
        app.conf.task_always_eager = previous
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCESS
    assert len(dump(tgt, "customers")) == 50


def test_failed_run_is_value_free_and_leaves_target_unchanged(db, tmp_path, owner):
    workflow, _, tgt = make_workflow(
        tmp_path, owner, target_schema=UNIQUE_CITY_SCHEMA, target_rows=EXISTING, batch_size=10
    )
    before = dump(tgt, "customers")
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    done = services.execution_run(execution_id=execution.pk)
    assert done.status == ExecutionStatus.FAILED
    assert "city" in done.error_message and "unique" in done.error_message.lower()
    assert done.rows_masked == 0 and done.report == {}
    assert done.tables.get(target_table="main.customers").status == "failed"
    assert dump(tgt, "customers") == before and dump(tgt, "orders") == []
    [fail] = events("execution.fail", done)
    texts = done.error_message + json.dumps(fail.details) + json.dumps(done.report)
    leaked = [v for v in source_values() if v in texts]
    assert leaked == []
    assert not events("execution.finish", done)


def test_preflight_failure_lists_problem(db, tmp_path, owner):
    workflow, _, tgt = make_workflow(
        tmp_path, owner, target_rows=EXISTING, target_mode="fail_if_not_empty"
    )
    done = services.execution_run(
        execution_id=services.execution_start(workflow=workflow, by=owner, enqueue=False).pk
    )
    assert done.status == ExecutionStatus.FAILED
    assert "preflight" in done.error_message and "target_not_empty" in done.error_message
    assert dump(tgt, "customers") == EXISTING


def test_unexpected_error_gets_generic_message(scenario, owner, monkeypatch):
    workflow, _, _ = scenario

    def explode(*args, **kwargs):
        raise RuntimeError("driver said: value 'ada.lovelace1@example.org' rejected")

    monkeypatch.setattr("masking.pipeline.run", explode)
    done = services.execution_run(
        execution_id=services.execution_start(workflow=workflow, by=owner, enqueue=False).pk
    )
    assert done.status == ExecutionStatus.FAILED
    assert "RuntimeError" in done.error_message and "example.org" not in done.error_message
    [fail] = events("execution.fail", done)
    assert "example.org" not in json.dumps(fail.details)


def test_create_target_tables_when_absent(db, tmp_path, owner):
    workflow, _, tgt = make_workflow(tmp_path, owner, with_target=False, create_target=True)
    done = services.execution_run(
        execution_id=services.execution_start(workflow=workflow, by=owner, enqueue=False).pk
    )
    assert done.status == ExecutionStatus.SUCCESS, done.error_message
    assert len(dump(tgt, "customers")) == 50 and len(dump(tgt, "orders")) == 120
    assert sorted(done.report["created_tables"]) == ["main.customers", "main.orders"]


def target_tables(path) -> set[str]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_failed_run_drops_the_tables_it_created(db, tmp_path, owner, monkeypatch):
    from masking.errors import TerminalError

    workflow, _, tgt = make_workflow(tmp_path, owner, with_target=False, create_target=True)
    seen = []

    def fail_after_create(plan, source, target, progress=None, **kwargs):
        seen.append(target_tables(tgt))
        raise TerminalError("table 'main.orders': load failed")

    monkeypatch.setattr("masking.pipeline.run", fail_after_create)
    done = services.execution_run(
        execution_id=services.execution_start(workflow=workflow, by=owner, enqueue=False).pk
    )
    assert seen == [{"customers", "orders"}]  # created before the run started
    assert done.status == ExecutionStatus.FAILED
    assert target_tables(tgt) == set()
    assert done.error_message.startswith(
        "table 'main.orders': load failed; the target was rolled back"
    )
    assert "dropped: main.orders, main.customers" in done.error_message
    [fail] = events("execution.fail", done)
    assert fail.details["dropped_tables"] == ["main.orders", "main.customers"]


def test_cancelled_run_drops_the_tables_it_created(db, tmp_path, owner):
    workflow, _, tgt = make_workflow(
        tmp_path, owner, with_target=False, create_target=True, batch_size=5
    )
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)

    def cancel(update):
        services.execution_cancel(execution=Execution.objects.get(pk=execution.pk), by=owner)

    done = services.execution_run(execution_id=execution.pk, on_update=cancel)
    assert done.status == ExecutionStatus.CANCELLED
    assert target_tables(tgt) == set()
    assert "the tables it created were dropped: main.orders, main.customers" in done.error_message


def test_created_table_written_by_someone_else_is_kept(db, tmp_path, owner, monkeypatch):
    import sqlite3

    from masking.errors import TerminalError

    workflow, _, tgt = make_workflow(tmp_path, owner, with_target=False, create_target=True)

    def others_write_then_fail(plan, source, target, progress=None, **kwargs):
        with sqlite3.connect(tgt) as conn:
            conn.execute("INSERT INTO orders (id, customer_id, amount) VALUES (1, 1, 2.5)")
        raise TerminalError("table 'main.customers': load failed")

    monkeypatch.setattr("masking.pipeline.run", others_write_then_fail)
    done = services.execution_run(
        execution_id=services.execution_start(workflow=workflow, by=owner, enqueue=False).pk
    )
    assert done.status == ExecutionStatus.FAILED
    assert target_tables(tgt) == {"orders"}
    assert (
        "dropped: main.customers." in done.error_message and "main.orders" not in done.error_message
    )


def test_existing_target_tables_are_never_dropped(scenario, owner, monkeypatch):
    from masking.errors import TerminalError

    workflow, _, tgt = scenario
    workflow.mappings.update(create_target=True)  # marked, but the tables already exist
    before = target_tables(tgt)

    def fail(*args, **kwargs):
        raise TerminalError("table 'main.orders': load failed")

    monkeypatch.setattr("masking.pipeline.run", fail)
    done = services.execution_run(
        execution_id=services.execution_start(workflow=workflow, by=owner, enqueue=False).pk
    )
    assert done.status == ExecutionStatus.FAILED and "dropped" not in done.error_message
    assert target_tables(tgt) == before and {"customers", "orders"} <= before


def test_cancel_queued_is_immediate(scenario, owner):
    workflow, _, tgt = scenario
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    cancelled = services.execution_cancel(execution=execution, by=owner)
    assert cancelled.status == ExecutionStatus.CANCELLED and cancelled.finished_at
    assert (
        services.execution_run(execution_id=execution.pk) is None
    )  # the worker finds nothing to do
    assert dump(tgt, "customers") == []
    assert [e.details["stage"] for e in events("execution.cancel", execution)] == ["queued"]


def test_cancel_running_rolls_back(db, tmp_path, owner):
    workflow, _, tgt = make_workflow(tmp_path, owner, target_rows=EXISTING, batch_size=5)
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    seen = []

    def cancel_once_loading(update):
        seen.append(update.phase)
        if len(seen) == 1:
            current = Execution.objects.get(pk=execution.pk)
            assert current.status == ExecutionStatus.RUNNING
            services.execution_cancel(execution=current, by=owner)

    done = services.execution_run(execution_id=execution.pk, on_update=cancel_once_loading)
    assert seen, "the run never reported progress"
    assert done.status == ExecutionStatus.CANCELLED and done.cancel_requested
    assert dump(tgt, "customers") == EXISTING and dump(tgt, "orders") == []
    assert set(done.tables.values_list("status", flat=True)) <= {"cancelled", "pending"}
    assert set(done.tables.values_list("rows_written", flat=True)) == {0}
    assert [e.details["stage"] for e in events("execution.cancel", done)] == [
        "requested",
        "stopped",
    ]


def test_other_user_cannot_cancel(scenario, owner, other_user):
    workflow, _, _ = scenario
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    with pytest.raises(PermissionDenied):
        services.execution_cancel(execution=execution, by=other_user)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.QUEUED and not execution.cancel_requested


def test_run_twice_runs_once(scenario, owner):
    workflow, _, tgt = scenario
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    assert services.execution_run(execution_id=execution.pk).status == ExecutionStatus.SUCCESS
    assert services.execution_run(execution_id=execution.pk) is None
    assert execution.tables.count() == 2
    assert len(events("execution.finish", execution)) == 1
    assert len(dump(tgt, "customers")) == 50


def test_a_run_lost_while_committing_is_reaped_as_possibly_committed(scenario, owner):
    """The run checks in just before its commit; lost after that, its outcome is unknown."""
    workflow, _, _ = scenario
    done = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    assert services.execution_run(execution_id=done.pk).status == ExecutionStatus.SUCCESS
    done.refresh_from_db()
    assert done.commit_started_at is not None and done.commit_started_at <= done.finished_at
    old = timezone.now() - dt.timedelta(minutes=5)
    lost = Execution.objects.create(
        workflow=workflow,
        executed_by=owner,
        status=ExecutionStatus.RUNNING,
        started_at=old,
        heartbeat_at=old,
        commit_started_at=old,
    )
    assert services.execution_reap(stale_after_seconds=60) == [lost.pk]
    lost.refresh_from_db()
    assert lost.status == ExecutionStatus.FAILED
    assert "while it committed" in lost.error_message and "rolled back" not in lost.error_message
    [fail] = events("execution.fail", lost)
    assert fail.details["reason"] == "worker_lost_committing"


def test_reaper_fails_stale_running_only(scenario, owner):
    workflow, _, _ = scenario
    stale = Execution.objects.create(
        workflow=workflow,
        executed_by=owner,
        status=ExecutionStatus.RUNNING,
        started_at=timezone.now() - dt.timedelta(minutes=10),
        heartbeat_at=timezone.now() - dt.timedelta(minutes=5),
    )
    fresh = Execution.objects.create(
        workflow=workflow,
        executed_by=owner,
        status=ExecutionStatus.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    assert services.execution_reap(stale_after_seconds=60) == [stale.pk]
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == ExecutionStatus.FAILED and "worker lost" in stale.error_message
    assert fresh.status == ExecutionStatus.RUNNING
    [fail] = events("execution.fail", stale)
    assert fail.details["reason"] == "worker_lost"
    assert services.execution_reap(stale_after_seconds=60) == []


def test_a_run_no_worker_ever_started_is_failed_after_the_queue_timeout(scenario, owner, settings):
    workflow, _, _ = scenario
    settings.EXECUTION_QUEUE_TIMEOUT_SECONDS = 3600
    lost = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    Execution.objects.filter(pk=lost.pk).update(queued_at=timezone.now() - dt.timedelta(hours=2))
    assert services.execution_reap() == [lost.pk]
    lost.refresh_from_db()
    assert lost.status == ExecutionStatus.FAILED and "No worker started" in lost.error_message
    assert events("execution.fail", lost)[0].details["reason"] == "never_started"
    waiting = services.execution_start(workflow=workflow, by=owner, enqueue=False)  # unblocked
    settings.EXECUTION_QUEUE_TIMEOUT_SECONDS = 0
    Execution.objects.filter(pk=waiting.pk).update(queued_at=timezone.now() - dt.timedelta(days=9))
    assert services.execution_reap() == []
    settings.EXECUTION_QUEUE_TIMEOUT_SECONDS = 3600
    Execution.objects.filter(pk=waiting.pk).update(queued_at=timezone.now())
    assert services.execution_reap() == []  # queued for less than the timeout: left alone


def test_permissions_and_refusals(scenario, owner, other_user):
    workflow, _, _ = scenario
    with pytest.raises(PermissionDenied):
        services.execution_start(workflow=workflow, by=other_user)
    denied = AuditEvent.objects.filter(action="execution.start", status=AuditEvent.Status.DENIED)
    assert denied.count() == 1
    admin = AdminFactory()
    first = services.execution_start(workflow=workflow, by=admin, enqueue=False)
    assert first.executed_by == admin
    with pytest.raises(services.ExecutionRefused) as conflict:
        services.execution_start(workflow=workflow, by=owner, enqueue=False)
    assert conflict.value.code == "conflict"
    services.execution_cancel(execution=first, by=admin)
    workflow.status = "inactive"
    workflow.save()
    with pytest.raises(services.ExecutionRefused) as inactive:
        services.execution_start(workflow=workflow, by=owner, enqueue=False)
    assert inactive.value.code == "inactive"
    assert Execution.objects.count() == 1


def test_schema_drift_refuses_before_writing(db, tmp_path, owner):
    drifted = SCHEMA.replace("last_name VARCHAR(40),\n", "")
    workflow, _, tgt = make_workflow(tmp_path, owner, target_schema=drifted, target_rows=None)
    done = services.execution_run(
        execution_id=services.execution_start(workflow=workflow, by=owner, enqueue=False).pk
    )
    assert done.status == ExecutionStatus.FAILED
    assert done.error_message.startswith("Schema drift") and "last_name" in done.error_message
    assert dump(tgt, "customers") == [] and done.tables.filter(status="success").count() == 0


def test_a_run_prepares_its_target_to_load_before_the_drift_check(db, tmp_path, owner, monkeypatch):
    from apps.executions.services import run as run_module
    from masking.dialects.base import Dialect

    calls = []
    check = run_module.refuse_on_drift
    monkeypatch.setattr(Dialect, "prepare_load", lambda self: calls.append("prepare_load"))
    monkeypatch.setattr(
        run_module, "refuse_on_drift", lambda *a: (calls.append("drift check"), check(*a))[1]
    )
    workflow, _, _ = make_workflow(tmp_path, owner)
    done = services.execution_run(
        execution_id=services.execution_start(workflow=workflow, by=owner, enqueue=False).pk
    )
    assert done.status == ExecutionStatus.SUCCESS
    assert calls[:2] == ["prepare_load", "drift check"]


def test_a_copy_that_breaks_the_sources_relationships_is_reported(tmp_path, owner, page):
    """A target shaped without the source's foreign key takes orders of customers a row
    filter left out, and the run's report names them instead of calling the copy intact."""
    loose = SCHEMA.replace(" REFERENCES customers (id)", "")
    assert loose != SCHEMA
    workflow, _, tgt = make_workflow(tmp_path, owner, customers=20, orders=60, target_schema=loose)
    workflow.mappings.filter(source_table="customers").update(row_filter="id <= 10")
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    done = services.execution_run(execution_id=execution.pk)
    assert done.status == ExecutionStatus.SUCCESS, done.error_message
    orphans = sum(1 for r in dump(tgt, "orders") if r[1] > 10)
    assert orphans > 0 and done.report["fk_ok"] is False
    assert done.report["broken_links"] == [
        {"table": "main.orders", "columns": "customer_id", "parent": "main.customers",
         "rows": orphans}
    ]  # fmt: skip
    html = page(owner).get(f"/executions/{done.pk}/").content.decode()
    block = html.split('data-testid="broken-links"', 1)[1].split("</div>", 1)[0]
    assert f"main.orders</strong> (customer_id) → main.customers: {orphans} rows" in block
    assert 'data-testid="fk-ok">broken<' in html
