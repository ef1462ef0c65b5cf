"""The dashboard's numbers follow the permission matrix: users count their own runs."""

from __future__ import annotations

import json
import re

import pytest
from django.utils import timezone

from apps.executions import services
from apps.executions.models import Execution, ExecutionStatus
from tests.executions.scenario import make_workflow

pytestmark = pytest.mark.django_db


def chart(body: str) -> dict:
    match = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', body, re.S)
    assert match, "chart data element missing"
    return json.loads(match.group(1))


def test_dashboard_counts_and_chart(page, owner, other_user, admin_user, scenario, tmp_path):
    workflow, _, _ = scenario
    done = services.execution_run(
        execution_id=services.execution_start(workflow=workflow, by=owner, enqueue=False).pk
    )
    theirs, _, _ = make_workflow(tmp_path / "b", other_user, name="theirs")
    Execution.objects.create(
        workflow=theirs,
        executed_by=other_user,
        status=ExecutionStatus.FAILED,
        finished_at=timezone.now(),
    )
    body = page(owner).get("/").content.decode()
    assert re.search(r'data-testid="stat-executions">1<', body)
    assert re.search(r'data-testid="stat-success-rate">100%<', body)
    assert re.search(r'data-testid="stat-workflows">2<', body)
    data = chart(body)
    assert len(data["labels"]) == 30 and data["labels"][-1] == timezone.localdate().isoformat()
    assert data["rows_masked"][-1] == done.rows_masked == 50 and sum(data["rows_masked"]) == 50
    assert f'data-execution="{done.pk}"' in body
    assert 'src="/static/js/dashboard.js"' in body and "<script>" not in body

    admin_body = page(admin_user).get("/").content.decode()
    assert re.search(r'data-testid="stat-executions">2<', admin_body)
    assert re.search(r'data-testid="stat-success-rate">50%<', admin_body)

    other_body = page(other_user).get("/").content.decode()
    assert re.search(r'data-testid="stat-success-rate">0%<', other_body)
    assert sum(chart(other_body)["rows_masked"]) == 0
    assert f'data-execution="{done.pk}"' not in other_body


def test_dashboard_with_nothing_yet(page, owner):
    body = page(owner).get("/").content.decode()
    assert re.search(r'data-testid="stat-success-rate">—<', body)
    assert 'href="/connections/new/"' in body
