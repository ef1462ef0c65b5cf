"""The wizard in headless Chromium: a subset of a quarter of the customers is configured in
step 2, its row estimates appear before anything is saved, and the saved workflow carries it;
then a schedule is added on the workflow's page (a wrong cron first, answered in place)."""

import re

import pytest

from apps.schedules.models import Schedule
from apps.workflows.models import Workflow
from tests.e2e.conftest import sign_in
from tests.e2e.test_wizard import demo  # noqa: F401 - fixture
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_wizard_subset_with_row_estimates_then_a_schedule(browser_page, owner, demo, shot):  # noqa: F811
    src, tgt = demo
    page = browser_page
    sign_in(page, owner.username, TEST_PASSWORD)
    page.goto("/workflows/new/?restart=1")
    page.fill("input[name=name]", "Quarter of the customers")
    page.select_option("select[name=source_connection_id]", str(src.pk))
    page.select_option("select[name=target_connection_id]", str(tgt.pk))
    page.click("[data-testid=next]")
    page.wait_for_selector("[data-testid=pick-customers]")
    for table in ("customers", "orders", "payments"):
        page.check(f"[data-testid=pick-{table}]")
        page.wait_for_selector(f"[data-testid=columns-{table}]")
    page.fill("[data-testid=subset-root]", "main.customers")
    page.select_option("[data-testid=subset-size]", "percent")
    page.fill("[data-testid=subset-amount]", "25")
    page.click("[data-testid=subset-estimate-button]")
    page.wait_for_selector("[data-testid=subset-estimate]")
    rows = {
        row.get_attribute("data-table"): int(row.locator("[data-testid=kept]").inner_text())
        for row in page.locator("[data-testid=subset-estimate] tbody tr").all()
    }
    assert set(rows) == {"main.customers", "main.orders", "main.payments"}
    assert 0 < rows["main.customers"] < 60 and rows["main.orders"] > 0
    assert re.search(r"of 60|\b60\b", page.inner_text("[data-testid=subset-estimate]"))
    shot(page, "wizard-2-subset-estimates")
    assert not Workflow.objects.exists()  # estimates save nothing
    page.click("[data-testid=next]")
    page.wait_for_selector("[data-testid=preview-customers]")
    page.click("[data-testid=next]")
    page.wait_for_selector("[data-testid=wizard-step-4]")
    page.click("[data-testid=save-workflow]")
    page.wait_for_selector("text=Workflow 'Quarter of the customers' created.")
    workflow = Workflow.objects.get(name="Quarter of the customers")
    assert workflow.subset["roots"][0]["table"] == "customers"
    assert float(workflow.subset["roots"][0]["percent"]) == 25

    page.goto(f"/workflows/{workflow.pk}/")
    page.wait_for_selector("[data-testid=no-schedules]")
    page.fill("[data-testid=schedule-cron]", "every monday")
    page.click("[data-testid=schedule-add]")
    page.wait_for_selector("[data-testid=schedule-cron-error]")
    assert not Schedule.objects.exists()
    page.fill("[data-testid=schedule-cron]", "0 2 * * 1")
    page.fill("[data-testid=schedule-timezone]", "Europe/Paris")
    page.click("[data-testid=schedule-add]")
    words = page.wait_for_selector("[data-testid=schedule-words]").inner_text()
    assert "02:00" in words and "Monday" in words and "(Europe/Paris)" in words
    assert page.inner_text("[data-testid=schedule-state]") == "active"
    shot(page, "workflow-schedule-added")
    schedule = Schedule.objects.get(workflow=workflow)
    assert (schedule.cron, schedule.timezone, schedule.created_by_id) == (
        "0 2 * * 1",
        "Europe/Paris",
        owner.pk,
    )
    page.click("[data-testid=schedule-pause]")
    page.wait_for_selector("[data-testid=schedule-resume]")
    assert Schedule.objects.get(pk=schedule.pk).paused is True
