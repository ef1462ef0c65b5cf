"""Execution pages: history, live detail (HTMX polling with 286), run/cancel/re-run, reports."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory

from apps.executions import services
from apps.executions.models import Execution, ExecutionStatus
from tests.executions.scenario import make_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def done(scenario, owner):
    workflow, _, _ = scenario
    return services.execution_run(
        execution_id=services.execution_start(workflow=workflow, by=owner, enqueue=False).pk
    )


def test_history_lists_own_runs_only(page, owner, other_user, admin_user, done, tmp_path):
    theirs, _, _ = make_workflow(tmp_path / "b", other_user, name="theirs")
    other_run = services.execution_start(workflow=theirs, by=other_user, enqueue=False)
    body = page(owner).get("/executions/").content.decode()
    assert f'data-execution="{done.pk}"' in body and f'data-execution="{other_run.pk}"' not in body
    assert 'data-testid="filter-user"' not in body
    admin_body = page(admin_user).get("/executions/").content.decode()
    assert (
        f'data-execution="{done.pk}"' in admin_body
        and f'data-execution="{other_run.pk}"' in admin_body
    )
    assert 'data-testid="filter-user"' in admin_body
    filtered = page(admin_user).get("/executions/", {"user": other_user.pk}).content.decode()
    assert (
        f'data-execution="{done.pk}"' not in filtered
        and f'data-execution="{other_run.pk}"' in filtered
    )
    assert page(None).get("/executions/").status_code == 302


def test_detail_shows_report_and_downloads(page, owner, other_user, done):
    response = page(owner).get(f"/executions/{done.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-status="success"' in body and "hx-trigger" not in body  # final: no polling
    assert 'value="100"' in body and 'id="leak-checks"' in body and 'data-column="email"' in body
    assert 'data-testid="rerun-execution"' in body and 'data-testid="cancel-execution"' not in body
    assert "<script>" not in body and "style=" not in body  # strict CSP: nothing inline
    csv = page(owner).get(f"/executions/{done.pk}/report.csv")
    assert csv.status_code == 200 and b"leak_check" in csv.content
    assert (
        page(owner).get(f"/executions/{done.pk}/report.json")["Content-Type"] == "application/json"
    )
    assert page(other_user).get(f"/executions/{done.pk}/").status_code == 404
    assert page(other_user).get(f"/executions/{done.pk}/report.csv").status_code == 404


def test_live_partial_polls_until_final(page, owner, scenario):
    workflow, _, _ = scenario
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    Execution.objects.filter(pk=execution.pk).update(
        status=ExecutionStatus.RUNNING,
        rows_processed=85,
        rows_total=170,
        rows_per_second=17.0,
        current_table="main.orders",
    )
    from django.utils import timezone

    Execution.objects.filter(pk=execution.pk).update(
        heartbeat_at=timezone.now(), started_at=timezone.now()
    )
    running = page(owner).get(f"/executions/{execution.pk}/live/", HTTP_HX_REQUEST="true")
    body = running.content.decode()
    assert running.status_code == 200
    assert 'hx-trigger="every 1s"' in body and 'value="50"' in body and "main.orders" in body
    assert (
        "17 rows/s" in body and "about 5s left" in body and 'data-testid="cancel-execution"' in body
    )
    Execution.objects.filter(pk=execution.pk).update(
        status=ExecutionStatus.FAILED, error_message="boom"
    )
    final = page(owner).get(f"/executions/{execution.pk}/live/", HTTP_HX_REQUEST="true")
    assert final.status_code == 286 and "hx-trigger" not in final.content.decode()
    assert "boom" in final.content.decode()


def test_run_button_and_cancel(
    page, owner, other_user, scenario, django_capture_on_commit_callbacks
):
    workflow, _, _ = scenario
    response = page(other_user).post(f"/executions/run/{workflow.pk}/")
    assert response.status_code == 403 and Execution.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=False):
        response = page(owner).post(f"/executions/run/{workflow.pk}/")
    execution = Execution.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/executions/{execution.pk}/"
    assert page(other_user).post(f"/executions/{execution.pk}/cancel/").status_code == 404
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.QUEUED
    assert page(owner).post(f"/executions/{execution.pk}/cancel/").status_code == 302
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED
    assert page(owner).get(f"/executions/run/{workflow.pk}/").status_code == 405


def test_run_button_partial_only_for_those_who_may_run(owner, other_user, admin_user, scenario):
    workflow, _, _ = scenario

    def render_for(user):
        request = RequestFactory().get("/")
        request.user = user
        return render_to_string(
            "executions/_run_button.html", {"workflow": workflow, "user": user}, request=request
        )

    assert f'action="/executions/run/{workflow.pk}/"' in render_for(owner)
    assert "csrfmiddlewaretoken" in render_for(owner)
    assert 'data-testid="run-workflow"' in render_for(admin_user)
    assert "run-workflow" not in render_for(other_user)


def test_history_partial_renders(owner, done):
    html = render_to_string(
        "executions/_history.html", {"executions": [done], "workflow": done.workflow}
    )
    assert f'data-execution="{done.pk}"' in html and f"?workflow={done.workflow_id}" in html


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "—"),
        (0.04, "<0.1s"),
        (0.28, "0.3s"),
        (9.94, "9.9s"),
        (0, "0s"),
        (7, "7s"),
        (12.4, "12s"),
        (125, "2m 05s"),
        (7384, "2h 03m"),
    ],
)
def test_durations_read_as_people_write_them(seconds, shown) -> None:
    from apps.executions.templatetags.executions import duration

    assert duration(seconds) == shown
