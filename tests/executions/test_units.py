"""Runs split into units on SQLite files: Celery chain of groups per level, then the publish;
failures and cancels leave the target as it was and drop the staging."""

from __future__ import annotations

import sqlite3

import pytest

from apps.audit.models import AuditEvent
from apps.executions import services
from apps.executions.models import ExecutionStatus, UnitStatus
from apps.executions.services import units as unit_services
from apps.workflows.services import workflow_as_input
from tests.executions.scenario import dump

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager(settings):
    from config.celery import app

    settings.EXECUTION_UNIT_ROWS = 20
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = previous


def fail_unit(monkeypatch, index: int, message: str = "boom") -> None:  # type: ignore[no-untyped-def]
    """Make unit `index` of every run fail with a RuntimeError saying `message`."""
    real = unit_services.staged.run_unit

    def flaky(plan, layout, unit, *args, **kwargs):  # type: ignore[no-untyped-def]
        if unit == index:
            raise RuntimeError(message)
        return real(plan, layout, unit, *args, **kwargs)

    monkeypatch.setattr(unit_services.staged, "run_unit", flaky)


def _staging(path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'mf_stage_%'")
        return [r[0] for r in rows]
    finally:
        conn.close()


def test_units_run_as_tasks_and_equal_a_run_in_one_transaction(
    scenario, owner, eager, settings, django_capture_on_commit_callbacks
):
    workflow, _, tgt = scenario
    settings.EXECUTION_UNIT_ROWS = 0
    first = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    assert services.execution_run(execution_id=first.pk).status == ExecutionStatus.SUCCESS
    expected = {t: dump(tgt, t) for t in ("customers", "orders")}

    settings.EXECUTION_UNIT_ROWS = 20
    with django_capture_on_commit_callbacks(execute=True):
        execution = services.execution_start(workflow=workflow, by=owner)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
    assert {t: dump(tgt, t) for t in ("customers", "orders")} == expected
    units = list(execution.units.all())
    # 50 customers and 120 orders in units of 20 rows: 3 + 6, parents on the lower level
    assert [u.table for u in units].count("main.customers") == 3
    assert [u.table for u in units].count("main.orders") == 6
    assert {u.level for u in units if u.table == "main.customers"} == {0}
    assert {u.level for u in units if u.table == "main.orders"} == {1}
    assert {u.status for u in units} == {UnitStatus.DONE}
    assert sum(u.rows for u in units) == 170 and all(u.worker for u in units)
    assert (execution.rows_processed, execution.rows_masked) == (170, 50)
    assert 0 < execution.lock_seconds and execution.report["units"] == 9
    assert execution.report["leak_ok"] and execution.report["fk_ok"]
    # SQLite: no snapshot at all, said so
    assert execution.report["read_consistency"].startswith("no snapshot: each unit read")
    assert _staging(tgt) == []
    [event] = AuditEvent.objects.filter(action="execution.finish", resource_id=str(execution.pk))
    assert event.details["units"] == 9 and event.details["workers"] >= 1


def test_failed_unit_fails_the_run_and_drops_staging(
    scenario, owner, eager, monkeypatch, django_capture_on_commit_callbacks
):
    workflow, _, tgt = scenario
    before = {t: dump(tgt, t) for t in ("customers", "orders")}
    fail_unit(monkeypatch, 4, "boom person@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        execution = services.execution_start(workflow=workflow, by=owner)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    assert "person@example.org" not in execution.error_message
    assert "RuntimeError" in execution.error_message
    statuses = {u.index: u.status for u in execution.units.all()}
    assert statuses[4] == UnitStatus.FAILED
    assert UnitStatus.WAITING in statuses.values()  # later units never ran
    assert {t: dump(tgt, t) for t in ("customers", "orders")} == before
    assert _staging(tgt) == []


def test_cancel_before_publish_leaves_target_and_drops_staging(scenario, owner, settings):
    workflow, _, tgt = scenario
    settings.EXECUTION_UNIT_ROWS = 20
    before = {t: dump(tgt, t) for t in ("customers", "orders")}
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    levels = unit_services.unit_begin(execution_id=execution.pk)
    assert [len(level) for level in levels] == [3, 6]
    for index in levels[0]:
        assert unit_services.unit_run(execution_id=execution.pk, index=index) == "done"
    assert _staging(tgt)  # staged, not published
    services.execution_cancel(execution=execution, by=owner)
    assert unit_services.unit_run(execution_id=execution.pk, index=levels[1][0]) == "skipped"
    assert unit_services.unit_publish(execution_id=execution.pk) == ExecutionStatus.CANCELLED
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED
    assert {t: dump(tgt, t) for t in ("customers", "orders")} == before
    assert _staging(tgt) == []


def test_a_cancel_during_the_publish_rolls_it_back(scenario, owner, settings, monkeypatch):
    """Cancelled after the publish began: its last check before the commit sees it."""
    from masking import staged

    workflow, _, tgt = scenario
    settings.EXECUTION_UNIT_ROWS = 20
    before = {t: dump(tgt, t) for t in ("customers", "orders")}
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    levels = unit_services.unit_begin(execution_id=execution.pk)
    for index in [i for level in levels for i in level]:
        assert unit_services.unit_run(execution_id=execution.pk, index=index) == "done"
    publish = staged.finish

    def cancelled_meanwhile(*args, **kwargs):  # type: ignore[no-untyped-def]
        services.execution_cancel(execution=execution, by=owner)
        return publish(*args, **kwargs)

    monkeypatch.setattr(staged, "finish", cancelled_meanwhile)
    assert unit_services.unit_publish(execution_id=execution.pk) == ExecutionStatus.CANCELLED
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED
    assert execution.error_message == "Cancelled on request; the target was not changed."
    assert {t: dump(tgt, t) for t in ("customers", "orders")} == before
    assert _staging(tgt) == []


def test_dashboard_shows_runs_going_on_now(scenario, owner, other_user, settings, page):
    workflow, _, _ = scenario
    settings.EXECUTION_UNIT_ROWS = 20
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    levels = unit_services.unit_begin(execution_id=execution.pk)
    for index in levels[0][:2]:
        unit_services.unit_run(execution_id=execution.pk, index=index, worker="w1@host")
    html = page(owner).get("/").content.decode()
    assert f'data-execution="{execution.pk}"' in html
    assert 'data-testid="units-done">2 of 9<' in html
    execution.refresh_from_db()
    rows = sum(u.rows for u in execution.units.filter(index__in=levels[0][:2]))
    assert execution.rows_processed == rows > 0 and execution.rows_per_second > 0
    assert f'data-execution="{execution.pk}"' not in page(other_user).get("/").content.decode()
    unit_services.unit_run(execution_id=execution.pk, index=levels[0][2])
    for index in levels[1]:
        unit_services.unit_run(execution_id=execution.pk, index=index)
    assert unit_services.unit_publish(execution_id=execution.pk) == ExecutionStatus.SUCCESS
    assert "No run is going on." in page(owner).get("/").content.decode()


def test_source_reader_limit_makes_units_wait(scenario, owner, settings):
    workflow, _, _ = scenario
    settings.EXECUTION_UNIT_ROWS = 20
    settings.EXECUTION_MAX_SOURCE_READERS = 1
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    levels = unit_services.unit_begin(execution_id=execution.pk)
    first, second = levels[0][:2]
    # another worker is reading unit `first` from the same source right now
    execution.units.filter(index=first).update(status=UnitStatus.RUNNING, worker="w1@host")
    assert unit_services.unit_run(execution_id=execution.pk, index=second) == "busy"
    assert execution.units.get(index=second).status == UnitStatus.WAITING
    execution.units.filter(index=first).update(status=UnitStatus.DONE)
    assert unit_services.unit_run(execution_id=execution.pk, index=second) == "done"
    settings.EXECUTION_MAX_SOURCE_READERS = 0
    execution.units.filter(index=first).update(status=UnitStatus.RUNNING)
    assert unit_services.unit_run(execution_id=execution.pk, index=levels[0][2]) == "done"


def test_a_workflow_limits_its_own_source_readers(scenario, owner, settings, api):
    workflow, _, _ = scenario
    settings.EXECUTION_UNIT_ROWS = 20
    settings.EXECUTION_MAX_SOURCE_READERS = 0  # no limit for the install
    body = {**workflow_as_input(workflow), "max_source_readers": 0.5}
    refused = api(owner).put(f"/api/workflows/{workflow.pk}", body, format="json")
    assert refused.status_code == 400
    body["max_source_readers"] = 1
    saved = api(owner).put(f"/api/workflows/{workflow.pk}", body, format="json")
    assert saved.status_code == 200 and saved.json()["data"]["max_source_readers"] == 1
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    levels = unit_services.unit_begin(execution_id=execution.pk)
    first, second = levels[0][:2]
    execution.units.filter(index=first).update(status=UnitStatus.RUNNING, worker="w1@host")
    assert unit_services.unit_run(execution_id=execution.pk, index=second) == "busy"
    settings.EXECUTION_MAX_SOURCE_READERS = 5  # the smaller limit holds
    assert unit_services.unit_run(execution_id=execution.pk, index=second) == "busy"
    body["max_source_readers"] = None  # back to the install's limit
    assert api(owner).put(f"/api/workflows/{workflow.pk}", body, format="json").status_code == 200
    assert unit_services.unit_run(execution_id=execution.pk, index=second) == "done"


def _tables(path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


def test_units_create_missing_target_tables_and_equal_a_run_in_one_task(
    db, tmp_path, owner, eager, settings, django_capture_on_commit_callbacks
):
    """The run creates the missing tables before its units stage, and reports them."""
    from tests.executions.scenario import make_workflow

    workflow, _, tgt = make_workflow(tmp_path, owner, with_target=False, create_target=True)
    settings.EXECUTION_UNIT_ROWS = 0
    first = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    assert services.execution_run(execution_id=first.pk).status == ExecutionStatus.SUCCESS
    expected = {t: dump(tgt, t) for t in ("customers", "orders")}
    conn = sqlite3.connect(tgt)
    conn.executescript("DROP TABLE orders; DROP TABLE customers;")
    conn.close()

    settings.EXECUTION_UNIT_ROWS = 20
    with django_capture_on_commit_callbacks(execute=True):
        execution = services.execution_start(workflow=workflow, by=owner)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
    assert execution.units.count() == 9
    assert sorted(execution.report["created_tables"]) == ["main.customers", "main.orders"]
    assert {t: dump(tgt, t) for t in ("customers", "orders")} == expected
    assert _staging(tgt) == []


def test_a_failed_units_run_drops_the_tables_it_created(
    db, tmp_path, owner, eager, monkeypatch, django_capture_on_commit_callbacks
):
    from tests.executions.scenario import make_workflow

    workflow, _, tgt = make_workflow(tmp_path, owner, with_target=False, create_target=True)
    before = _tables(tgt)
    fail_unit(monkeypatch, 4)
    with django_capture_on_commit_callbacks(execute=True):
        execution = services.execution_start(workflow=workflow, by=owner)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    message = execution.error_message
    assert "The tables the run created were dropped: " in message, message
    assert "main.customers" in message and "main.orders" in message
    assert _tables(tgt) == before
