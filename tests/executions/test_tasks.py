"""Task registration, the reaper's schedule, and reaping on read (deployments without beat)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.executions.models import Execution, ExecutionStatus

pytestmark = pytest.mark.django_db


def test_tasks_registered_and_reaper_scheduled():
    from config.celery import app

    app.loader.import_default_modules()
    assert {"maskflow.run_execution", "maskflow.reap_executions"} <= set(app.tasks)
    assert app.tasks["maskflow.run_execution"].acks_late is True
    entry = app.conf.beat_schedule["maskflow-reap-executions"]
    assert entry["task"] == "maskflow.reap_executions" and entry["schedule"] == 30.0


def test_reap_task_and_listing_reap_stale_runs(api, owner, scenario):
    from apps.executions.tasks import reap_executions

    workflow, _, _ = scenario
    old = timezone.now() - dt.timedelta(minutes=5)
    first = Execution.objects.create(
        workflow=workflow,
        executed_by=owner,
        status=ExecutionStatus.RUNNING,
        started_at=old,
        heartbeat_at=old,
    )
    assert reap_executions.apply(kwargs={"stale_after_seconds": 60}).get() == [first.pk]
    second = Execution.objects.create(
        workflow=workflow,
        executed_by=owner,
        status=ExecutionStatus.RUNNING,
        started_at=old,
        heartbeat_at=old,
    )
    listed = api(owner).get("/api/executions").json()["data"]["results"]
    assert {e["id"]: e["status"] for e in listed} == {first.pk: "failed", second.pk: "failed"}
