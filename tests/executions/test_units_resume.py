"""A staged run whose worker died: reaped as worker lost with the target unchanged, resumed
from the command line running only the units not complete, equal to an uninterrupted run;
staging nobody resumes is dropped by the reaper, audited."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.executions import services
from apps.executions.models import Execution, ExecutionStatus, ExecutionUnit, UnitStatus
from apps.executions.services import resume as resume_services
from apps.executions.services import units as unit_services
from apps.executions.services.outcome import WORKER_LOST, WORKER_LOST_COMMITTING, finish
from tests.executions.scenario import dump
from tests.executions.test_units import _staging, fail_unit

pytestmark = pytest.mark.django_db
TABLES = ("customers", "orders")


def _lost_midway(workflow, owner, done: int) -> Execution:
    """Units 0..done-1 complete, then the worker dies in the next one."""
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    levels = unit_services.unit_begin(execution_id=execution.pk)
    order = [i for level in levels for i in level]
    for index in order[:done]:
        assert unit_services.unit_run(execution_id=execution.pk, index=index) == "done"
    ExecutionUnit.objects.filter(execution=execution, index=order[done]).update(
        status=UnitStatus.RUNNING, worker="gone:1"
    )
    return _reaped(execution)


def _reaped(execution: Execution) -> Execution:
    """The execution's heartbeat long stopped, and the reaper has failed it."""
    old = timezone.now() - dt.timedelta(minutes=10)
    Execution.objects.filter(pk=execution.pk).update(heartbeat_at=old)
    assert services.execution_reap(stale_after_seconds=60) == [execution.pk]
    execution.refresh_from_db()
    return execution


def _all_staged(workflow, owner) -> Execution:
    """A run whose units are all staged, waiting for its publish."""
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    for level in unit_services.unit_begin(execution_id=execution.pk):
        for index in level:
            assert unit_services.unit_run(execution_id=execution.pk, index=index) == "done"
    return execution


def test_worker_lost_then_resume_runs_only_incomplete_units(
    scenario, owner, settings, monkeypatch, tmp_path
):
    workflow, _, tgt = scenario
    settings.EXECUTION_UNIT_ROWS = 0
    reference = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    services.execution_run(execution_id=reference.pk)
    expected = {t: dump(tgt, t) for t in TABLES}
    _empty(tgt)
    before = {t: dump(tgt, t) for t in TABLES}

    settings.EXECUTION_UNIT_ROWS = 20
    execution = _lost_midway(workflow, owner, done=4)
    assert execution.status == ExecutionStatus.FAILED and execution.error_message == WORKER_LOST
    assert ExecutionUnit.objects.get(execution=execution, worker="gone:1").status == "failed"
    assert {t: dump(tgt, t) for t in TABLES} == before  # nothing published
    assert _staging(tgt)  # the complete units are still staged

    ran: list[int] = []
    real = unit_services.staged.run_unit

    def counting(plan, layout, index, *args, **kwargs):
        ran.append(index)
        return real(plan, layout, index, *args, **kwargs)

    monkeypatch.setattr(unit_services.staged, "run_unit", counting)
    out = StringIO()
    call_command("run_workflow", "--resume", str(execution.pk), "--wait", stdout=out)
    assert "5 unit(s) to run" in out.getvalue()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
    assert len(ran) == 9 - 4 and len(set(ran)) == 5  # only the units not complete ran
    assert execution.report["units_rerun"] == 5
    assert {t: dump(tgt, t) for t in TABLES} == expected
    assert _staging(tgt) == []
    assert AuditEvent.objects.filter(action="execution.resume").count() == 1


def _empty(path) -> None:
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM orders")
    conn.execute("DELETE FROM customers")
    conn.commit()
    conn.close()


def test_resume_refused_for_a_changed_key_or_a_success(scenario, owner, settings):
    workflow, _, _ = scenario
    settings.EXECUTION_UNIT_ROWS = 20
    execution = _lost_midway(workflow, owner, done=1)
    from apps.workflows.services import workflow_rotate_key

    workflow_rotate_key(workflow=workflow, by=owner)
    execution = Execution.objects.select_related("workflow").get(pk=execution.pk)
    with pytest.raises(resume_services.ResumeRefused):
        resume_services.execution_resume(execution=execution, by=owner)
    ok = Execution.objects.create(workflow=workflow, executed_by=owner, status="success")
    with pytest.raises(resume_services.ResumeRefused):
        resume_services.execution_resume(execution=ok, by=owner)


def test_reaper_drops_abandoned_staging_after_the_keep_time(scenario, owner, settings):
    workflow, _, tgt = scenario
    settings.EXECUTION_UNIT_ROWS = 20
    execution = _lost_midway(workflow, owner, done=2)
    assert _staging(tgt)
    assert resume_services.staging_reap(older_than_seconds=3600) == []  # too recent
    assert _staging(tgt)
    Execution.objects.filter(pk=execution.pk).update(
        finished_at=timezone.now() - dt.timedelta(hours=2)
    )
    assert resume_services.staging_reap(older_than_seconds=3600) == [execution.pk]
    assert _staging(tgt) == []
    [event] = AuditEvent.objects.filter(action="execution.staging_dropped")
    assert event.resource_id == str(execution.pk) and event.details["tables"] >= 3
    execution.refresh_from_db()
    assert not resume_services.can_resume(execution)


def test_resume_from_api_and_page_checks_who_asks(
    scenario, owner, other_user, admin_user, settings, api, page, django_capture_on_commit_callbacks
):
    from config.celery import app

    workflow, _, tgt = scenario
    settings.EXECUTION_UNIT_ROWS = 20
    execution = _lost_midway(workflow, owner, done=3)
    url = f"/api/executions/{execution.pk}/resume"
    assert api().post(url).status_code == 401
    assert api(other_user).post(url).status_code in (403, 404)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED

    html = page(owner).get(f"/executions/{execution.pk}/").content.decode()
    assert 'data-testid="resume-execution"' in html and 'data-testid="execution-units"' in html
    assert 'data-unit="failed">1<' in html  # the unit the lost worker held
    other_html = page(other_user).get(f"/executions/{execution.pk}/")
    assert other_html.status_code in (403, 404) or "resume-execution" not in (
        other_html.content.decode()
    )

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = api(owner).post(url)
    finally:
        app.conf.task_always_eager = previous
    assert response.status_code == 200, response.content
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
    assert execution.report["units_rerun"] == 6 and execution.report["units"] == 9
    assert api(admin_user).post(url).status_code == 409  # a success is not resumed
    html = page(owner).get(f"/executions/{execution.pk}/").content.decode()
    assert "resume-execution" not in html and 'data-unit="done">6<' in html


def test_created_tables_go_with_the_staging_and_come_back_on_resume(
    db, tmp_path, owner, settings, monkeypatch
):
    """A run that created its target tables: abandoned, the reaper drops them with its staging
    (the target is as it was); failed and resumed, the resume creates them again."""
    import sqlite3

    from tests.executions.scenario import make_workflow

    workflow, _, tgt = make_workflow(tmp_path, owner, with_target=False, create_target=True)

    def tables() -> set[str]:
        with sqlite3.connect(tgt) as conn:
            return {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}

    before = tables()
    settings.EXECUTION_UNIT_ROWS = 20
    lost = _lost_midway(workflow, owner, done=4)
    assert {"customers", "orders"} <= tables()  # created, kept for a resume meanwhile
    assert resume_services.staging_reap(older_than_seconds=0) == [lost.pk]
    assert tables() == before

    real = unit_services.staged.run_unit
    fail_unit(monkeypatch, 4)
    failed = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    for level in unit_services.unit_begin(execution_id=failed.pk):
        for index in level:
            unit_services.unit_run(execution_id=failed.pk, index=index)
    failed.refresh_from_db()
    assert failed.status == ExecutionStatus.FAILED and tables() == before
    monkeypatch.setattr(unit_services.staged, "run_unit", real)
    call_command("run_workflow", "--resume", str(failed.pk), "--wait", stdout=StringIO())
    failed.refresh_from_db()
    assert failed.status == ExecutionStatus.SUCCESS, failed.error_message
    assert failed.report["units_rerun"] == 9
    assert sorted(failed.report["created_tables"]) == ["main.customers", "main.orders"]
    assert len(dump(tgt, "customers")) == 50 and len(dump(tgt, "orders")) == 120


def _publish_lost(workflow, owner, monkeypatch) -> Execution:
    """Every unit staged, then the worker dies inside the publish, after its last check-in."""
    execution = _all_staged(workflow, owner)

    class WorkerGone(BaseException):  # not an Exception: nothing records it, as with SIGKILL
        pass

    real = unit_services._Cancel.before_commit

    def check_in_then_die(self):  # type: ignore[no-untyped-def]
        real(self)
        raise WorkerGone

    monkeypatch.setattr(unit_services._Cancel, "before_commit", check_in_then_die)
    with pytest.raises(WorkerGone):
        unit_services.unit_publish(execution_id=execution.pk)
    monkeypatch.undo()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RUNNING and execution.commit_started_at
    return _reaped(execution)


def test_a_worker_lost_while_committing_says_the_target_may_have_changed(
    scenario, owner, settings, monkeypatch, page
):
    """The reaper cannot know whether the commit went through: it says so, and the run cannot
    be resumed (in append mode a second publish would add the rows twice)."""
    workflow, _, _ = scenario
    settings.EXECUTION_UNIT_ROWS = 20
    execution = _publish_lost(workflow, owner, monkeypatch)
    assert execution.status == ExecutionStatus.FAILED
    assert execution.error_message == WORKER_LOST_COMMITTING
    [event] = AuditEvent.objects.filter(action="execution.fail", resource_id=str(execution.pk))
    assert event.details["reason"] == "worker_lost_committing"
    assert not resume_services.can_resume(execution)
    with pytest.raises(resume_services.ResumeRefused, match="while it committed"):
        resume_services.execution_resume(execution=execution, by=owner)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    html = page(owner).get(f"/executions/{execution.pk}/").content.decode()
    assert "resume-execution" not in html and "may hold this run" in html


def test_a_run_that_fails_in_the_publish_drops_its_commit_mark(scenario, owner, settings):
    """The worker that records the failure knows nothing was committed: it stays resumable."""
    workflow, _, _ = scenario
    settings.EXECUTION_UNIT_ROWS = 20
    execution = _lost_midway(workflow, owner, done=1)
    assert execution.commit_started_at is None and resume_services.can_resume(execution)
    running = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    Execution.objects.filter(pk=running.pk).update(
        status=ExecutionStatus.RUNNING, commit_started_at=timezone.now()
    )
    assert finish(running.pk, ExecutionStatus.FAILED, error_message="x")
    running.refresh_from_db()
    assert running.commit_started_at is None


def test_a_publish_whose_staging_cannot_be_dropped_still_succeeds(
    scenario, owner, settings, monkeypatch
):
    """The target committed: the run is a success, and the staging reaper drops what is left,
    keeping the published rows."""
    workflow, _, tgt = scenario
    settings.EXECUTION_UNIT_ROWS = 20
    execution = _all_staged(workflow, owner)
    real = unit_services.staged.discard

    def drop_fails_after_publish(layout, target, *, published=False):  # type: ignore[no-untyped-def]
        if published:
            raise OSError("connection lost")
        return real(layout, target, published=published)

    monkeypatch.setattr(unit_services.staged, "discard", drop_fails_after_publish)
    assert unit_services.unit_publish(execution_id=execution.pk) == ExecutionStatus.SUCCESS
    monkeypatch.undo()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCESS and execution.report["staging_left"]
    assert execution.commit_started_at is not None  # the publish checked in before it committed
    published = {t: dump(tgt, t) for t in TABLES}
    assert all(published.values()) and _staging(tgt)
    assert resume_services.staging_reap(older_than_seconds=0) == [execution.pk]
    assert _staging(tgt) == [] and {t: dump(tgt, t) for t in TABLES} == published
    assert resume_services.staging_reap(older_than_seconds=0) == []
