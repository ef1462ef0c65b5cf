"""Each table's load path (bulk copy, or a fallback and why) reaches the execution page, the
API and both report formats."""

from __future__ import annotations

import csv
import io

import pytest

from apps.executions import services
from apps.executions.models import ExecutionTable
from masking.dialects.sqlite import SQLiteDialect

pytestmark = pytest.mark.django_db

PATH = "row inserts (fallback: bulk copy refused the connection)"


@pytest.fixture
def done(scenario, owner, monkeypatch):
    monkeypatch.setattr(SQLiteDialect, "load_path", lambda self, table: f"{PATH} {table.name}")
    workflow, _, _ = scenario
    return services.execution_run(
        execution_id=services.execution_start(workflow=workflow, by=owner, enqueue=False).pk
    )


def test_each_table_records_its_load_path(done):
    tables = list(ExecutionTable.objects.filter(execution=done))
    assert tables and all(t.load_path == f"{PATH} {t.target_table.split('.')[-1]}" for t in tables)
    assert [t["load_path"] for t in done.report["tables"]] == [t.load_path for t in tables]


def test_page_api_and_reports_show_it(page, api, owner, done):
    body = page(owner).get(f"/executions/{done.pk}/").content.decode()
    assert body.count(f'<td data-testid="load-path">{PATH}') == len(done.report["tables"])
    rows = list(
        csv.DictReader(
            io.StringIO(page(owner).get(f"/executions/{done.pk}/report.csv").content.decode())
        )
    )
    assert [r["load_path"] for r in rows if r["section"] == "table"] == [
        t["load_path"] for t in done.report["tables"]
    ]
    data = api(owner).get(f"/api/executions/{done.pk}").json()["data"]
    assert {t["load_path"] for t in data["tables"]} == {t.load_path for t in done.tables.all()}


def test_a_dialect_with_one_load_path_shows_a_dash(page, owner, scenario):
    workflow, _, _ = scenario
    run = services.execution_run(
        execution_id=services.execution_start(workflow=workflow, by=owner, enqueue=False).pk
    )
    assert {t.load_path for t in run.tables.all()} == {""}
    assert (
        '<td data-testid="load-path">—</td>'
        in page(owner).get(f"/executions/{run.pk}/").content.decode()
    )
