"""manage.py run_workflow: what a CI pipeline sees (output and exit code)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from apps.executions.models import Execution, ExecutionStatus
from tests.executions.scenario import SCHEMA, dump, make_workflow

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("run_workflow", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_wait_success_exit_0_by_name(scenario, owner):
    workflow, _, tgt = scenario
    code, out, _ = run(workflow.name, "--wait")
    assert code == 0
    execution = Execution.objects.get()
    assert execution.status == ExecutionStatus.SUCCESS and execution.trigger == "cli"
    assert execution.executed_by == owner  # defaults to the workflow's owner
    assert "main.customers 50 rows success" in out and f"execution {execution.pk} success" in out
    assert "%" in out  # progress lines: table rows percent
    assert len(dump(tgt, "customers")) == 50


def test_wait_failed_exit_1(db, tmp_path, owner):
    schema = SCHEMA.replace("city VARCHAR(40))", "city VARCHAR(40) UNIQUE)")
    workflow, _, _ = make_workflow(tmp_path, owner, target_schema=schema)
    code, _, err = run(str(workflow.pk), "--wait")
    assert code == 1
    assert Execution.objects.get().status == ExecutionStatus.FAILED
    assert "failed" in err and "city" in err


def test_wait_timeout_cancels_exit_2(scenario):
    workflow, _, tgt = scenario
    code, _, err = run(str(workflow.pk), "--wait", "--timeout", "0.001")
    assert code == 2
    assert Execution.objects.get().status == ExecutionStatus.CANCELLED
    assert "cancelled" in err and "time limit" in err and dump(tgt, "customers") == []


def test_without_wait_queues(scenario, admin_user, django_capture_on_commit_callbacks):
    workflow, _, _ = scenario
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        code, out, _ = run(str(workflow.pk), "--user", admin_user.username)
    execution = Execution.objects.get()
    assert code == 0 and out.strip() == f"execution {execution.pk} queued"
    assert execution.status == ExecutionStatus.QUEUED and execution.executed_by == admin_user
    assert len(callbacks) == 1


def test_unknown_workflow_and_forbidden_user(scenario, other_user):
    workflow, _, _ = scenario
    with pytest.raises(CommandError, match="No workflow"):
        run("no-such-workflow", "--wait")
    with pytest.raises(CommandError, match="owner or an administrator"):
        run(str(workflow.pk), "--wait", "--user", other_user.username)
    assert Execution.objects.count() == 0
