"""The live page of a run split into units, in headless Chromium: each table's units by state,
the workers that took part, each unit with its worker, and the counts moving as units finish
(the page polls while the run goes on)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.executions.models import Execution, ExecutionUnit
from tests.e2e.conftest import sign_in
from tests.executions.scenario import make_workflow
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_units_by_table_and_worker_move_live(browser_page, owner, tmp_path, shot):
    workflow, _, _ = make_workflow(tmp_path, owner, customers=5, orders=5)
    now = timezone.now()
    execution = Execution.objects.create(
        workflow=workflow, executed_by=owner, status="running", started_at=now,
        heartbeat_at=now, rows_total=400_000, rows_processed=150_000,
    )  # fmt: skip
    states = [
        ("main.customers", "done", "worker-a@host1"),
        ("main.orders", "done", "worker-b@host2"),
        ("main.orders", "running", "worker-a@host1"),
        ("main.orders", "waiting", ""),
        ("main.orders", "waiting", ""),
    ]
    for index, (table, status, worker) in enumerate(states):
        ExecutionUnit.objects.create(
            execution=execution, index=index, table=table, status=status, worker=worker,
            rows=100_000 if status == "done" else 0,
        )  # fmt: skip
    page = browser_page
    sign_in(page, owner.username, TEST_PASSWORD)
    page.goto(f"/executions/{execution.pk}/")
    orders = page.locator("[data-testid=execution-units] tr[data-table='main.orders']")
    states_shown = ("done", "running", "waiting", "failed")
    counts = {k: orders.locator(f"[data-unit={k}]").inner_text() for k in states_shown}
    assert counts == {"done": "1", "running": "1", "waiting": "2", "failed": "0"}
    workers = page.inner_text("[data-testid=unit-workers]")
    assert workers.startswith("2 workers") and "worker-b@host2" in workers
    assert page.locator("[data-unit-index='1'] td").nth(3).inner_text() == "worker-b@host2"
    shot(page, "execution-units-live")

    ExecutionUnit.objects.filter(execution=execution, index=2).update(status="done")
    ExecutionUnit.objects.filter(execution=execution, index=3).update(
        status="running", worker="worker-c@host3"
    )
    # the page polls every second while the run goes on
    page.wait_for_selector(
        "[data-testid=execution-units] tr[data-table='main.orders'] [data-unit=done]:text-is('2')",
        timeout=10_000,
    )
    assert orders.locator("[data-unit=waiting]").inner_text() == "1"
    row = page.locator("[data-testid=unit-list] [data-unit-index='3'] td")
    assert row.nth(2).inner_text() == "running" and row.nth(3).inner_text() == "worker-c@host3"
    assert page.inner_text("[data-testid=unit-workers]").startswith("3 workers")
