"""Run a workflow from its page, watch the run finish, read the compliance report."""

from __future__ import annotations

import pytest

from apps.executions.models import Execution, ExecutionStatus
from tests.e2e.conftest import sign_in
from tests.executions.scenario import dump, make_workflow
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def eager_celery():
    """The task runs in the web process (no worker), as soon as the start is committed."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def test_run_workflow_watch_progress_and_open_report(
    browser_page, owner, tmp_path, shot, eager_celery
):
    workflow, _, tgt = make_workflow(
        tmp_path, owner, name="Customers to UAT", customers=3000, orders=8000, batch_size=500
    )
    page = browser_page
    sign_in(page, owner.username, TEST_PASSWORD)
    page.goto(f"/workflows/{workflow.pk}/")
    shot(page, "execution-workflow-before-run")
    page.click("[data-testid=run-workflow]")
    page.wait_for_url("**/executions/*/")
    page.wait_for_selector("[data-testid=execution-live][data-status=success]", timeout=60000)
    assert page.get_attribute("[data-testid=execution-progress]", "value") == "100"
    assert page.inner_text("[data-testid=execution-percent]") == "100%"
    assert page.inner_text("[data-testid=execution-status]") == "Success"
    assert page.inner_text("[data-testid=rows-processed]") == "11,000"
    assert page.inner_text("[data-testid=rows-masked]") == "3,000"
    shot(page, "execution-detail-success")

    report = page.locator("#leak-checks")
    assert report.locator("tr[data-column=email] td").nth(6).inner_text() == "OK"
    assert report.locator("tr[data-column=email] td").nth(3).inner_text() == "email"
    assert page.inner_text("[data-testid=leak-ok]") == "no source value found"
    with page.expect_download() as download_info:
        page.click("[data-testid=report-csv]")
    csv_text = open(download_info.value.path(), encoding="utf-8").read()
    assert "leak_check,main.customers,email,email" in csv_text
    shot(page, "execution-report")

    execution = Execution.objects.get()
    assert execution.status == ExecutionStatus.SUCCESS and len(dump(tgt, "customers")) == 3000

    page.goto("/executions/")
    assert page.locator(f"tr[data-execution='{execution.pk}']").count() == 1
    shot(page, "execution-history")
    page.goto("/")
    page.wait_for_selector("[data-testid=rows-chart][data-rendered=true]")
    assert page.inner_text("[data-testid=stat-rows-masked]") == "3,000"
    shot(page, "dashboard-chart")
    assert page.console_errors == []


def test_cancel_a_queued_run_from_its_page(browser_page, owner, tmp_path, shot):
    from apps.executions import services

    workflow, _, _ = make_workflow(tmp_path, owner, name="Queued only")
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    page = browser_page
    sign_in(page, owner.username, TEST_PASSWORD)
    page.goto(f"/executions/{execution.pk}/")
    assert page.get_attribute("[data-testid=execution-live]", "hx-trigger") == "every 1s"
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-testid=cancel-execution]")
    page.wait_for_selector("[data-testid=execution-live][data-status=cancelled]")
    shot(page, "execution-cancelled")
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED
    assert page.console_errors == []


def test_progress_bar_follows_the_run_by_polling(browser_page, owner, tmp_path, shot):
    """The page polls the live partial every second: what the worker writes shows up unaided,
    and polling stops (HTTP 286) once the run is final."""
    from django.utils import timezone

    from apps.executions import services

    workflow, _, _ = make_workflow(tmp_path, owner, name="Polled")
    execution = services.execution_start(workflow=workflow, by=owner, enqueue=False)
    page = browser_page
    sign_in(page, owner.username, TEST_PASSWORD)
    page.goto(f"/executions/{execution.pk}/")
    Execution.objects.filter(pk=execution.pk).update(
        status=ExecutionStatus.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        rows_processed=4000,
        rows_total=10000,
        rows_per_second=2000.0,
        current_table="main.customers",
    )
    page.wait_for_selector("[data-testid=execution-progress][value='40']")
    assert page.inner_text("[data-testid=current-table]") == "main.customers"
    assert "about 3s left" in page.inner_text("[data-testid=execution-live]")
    shot(page, "execution-running")
    Execution.objects.filter(pk=execution.pk).update(
        status=ExecutionStatus.SUCCESS, rows_processed=10000, finished_at=timezone.now()
    )
    page.wait_for_selector("[data-testid=execution-live][data-status=success]")
    assert page.get_attribute("[data-testid=execution-progress]", "value") == "100"
    requests = []
    page.on("request", lambda r: requests.append(r.url) if "/live/" in r.url else None)
    page.wait_for_timeout(2500)
    assert requests == []  # polling stopped
    assert page.console_errors == []
