"""A subset workflow runs whole even where runs are split into units: its key tables live on
one source connection."""

from __future__ import annotations

import pytest

from apps.executions import services
from apps.executions.models import ExecutionStatus
from tests.executions.scenario import dump
from tests.executions.test_units import eager  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def test_subset_run_is_not_split(scenario, owner, eager, django_capture_on_commit_callbacks):  # noqa: F811
    workflow, _, tgt = scenario
    workflow.subset = {"roots": [{"schema": "", "table": "customers", "percent": 50}]}
    workflow.save()
    with django_capture_on_commit_callbacks(execute=True):
        execution = services.execution_start(workflow=workflow, by=owner)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCESS, execution.error_message
    assert execution.units.count() == 0
    customers = {r[0] for r in dump(tgt, "customers")}
    assert 0 < len(customers) < 50
    kept = {r["table"]: r["kept"] for r in execution.report["subset"]}
    assert kept["main.customers"] == len(customers)
