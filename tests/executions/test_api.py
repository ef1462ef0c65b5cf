"""The executions API, row by row through the permission matrix (seed 8.4)."""

from __future__ import annotations

import csv
import io

import pytest

from apps.executions import services
from apps.executions.models import Execution, ExecutionStatus
from tests.executions.scenario import make_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs(tmp_path, owner, other_user, admin_user):
    """One finished execution of the owner's workflow, one queued of the other user's."""
    mine, _, _ = make_workflow(tmp_path / "a", owner, name="owner-flow")
    theirs, _, _ = make_workflow(tmp_path / "b", other_user, name="other-flow")
    done = services.execution_run(
        execution_id=services.execution_start(workflow=mine, by=owner, enqueue=False).pk
    )
    queued = services.execution_start(workflow=theirs, by=other_user, enqueue=False)
    return {"mine": mine, "theirs": theirs, "done": done, "queued": queued}


def ids(response) -> list[int]:
    return [e["id"] for e in response.json()["data"]["results"]]


def test_execute_returns_202_at_once(api, owner, scenario, django_capture_on_commit_callbacks):
    workflow, _, _ = scenario
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api(owner).post(f"/api/workflows/{workflow.pk}/execute")
    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True and body["data"]["status"] == "queued"
    execution = Execution.objects.get(pk=body["data"]["id"])
    assert execution.trigger == "api" and execution.executed_by == owner
    assert len(callbacks) == 1


@pytest.mark.parametrize(
    "who, expected", [("owner", 202), ("admin", 202), ("other", 403), ("anonymous", 401)]
)
def test_execute_permission_matrix(api, owner, other_user, admin_user, scenario, who, expected):
    workflow, _, _ = scenario
    user = {"owner": owner, "admin": admin_user, "other": other_user, "anonymous": None}[who]
    response = api(user).post(f"/api/workflows/{workflow.pk}/execute")
    assert response.status_code == expected
    assert response.json()["success"] is (expected == 202)
    assert Execution.objects.count() == (1 if expected == 202 else 0)


def test_execute_inactive_and_duplicate_are_conflicts(api, owner, scenario):
    workflow, _, _ = scenario
    assert api(owner).post(f"/api/workflows/{workflow.pk}/execute").status_code == 202
    second = api(owner).post(f"/api/workflows/{workflow.pk}/execute")
    assert second.status_code == 409 and second.json()["error"]["code"] == "CONFLICT"
    Execution.objects.update(status=ExecutionStatus.CANCELLED)
    workflow.status = "inactive"
    workflow.save()
    inactive = api(owner).post(f"/api/workflows/{workflow.pk}/execute")
    assert inactive.status_code == 409 and "inactive" in inactive.json()["error"]["message"]
    assert api(owner).post("/api/workflows/999999/execute").status_code == 404


def test_list_scoped_by_role(api, owner, other_user, admin_user, runs):
    assert ids(api(owner).get("/api/executions")) == [runs["done"].pk]
    assert ids(api(other_user).get("/api/executions")) == [runs["queued"].pk]
    assert sorted(ids(api(admin_user).get("/api/executions"))) == sorted(
        [runs["done"].pk, runs["queued"].pk]
    )
    assert api(None).get("/api/executions").status_code == 401


def test_list_filters_and_pagination(api, owner, admin_user, runs):
    admin = api(admin_user)
    assert ids(admin.get("/api/executions", {"status": "queued"})) == [runs["queued"].pk]
    assert ids(admin.get("/api/executions", {"workflow": runs["mine"].pk})) == [runs["done"].pk]
    assert ids(admin.get("/api/executions", {"user": owner.pk})) == [runs["done"].pk]
    assert (
        ids(admin.get("/api/executions", {"date_from": "2000-01-01", "date_to": "2000-12-31"}))
        == []
    )
    assert len(ids(admin.get("/api/executions", {"date_from": "2000-01-01"}))) == 2
    page = admin.get("/api/executions", {"page_size": 1, "page": 2}).json()["data"]
    assert page["count"] == 2 and page["num_pages"] == 2 and len(page["results"]) == 1
    # A user's "user" filter cannot widen what they see.
    assert ids(api(owner).get("/api/executions", {"user": runs["queued"].executed_by_id})) == [
        runs["done"].pk
    ]


def test_detail_hides_other_users_executions(api, owner, other_user, admin_user, runs):
    pk = runs["done"].pk
    mine = api(owner).get(f"/api/executions/{pk}")
    assert mine.status_code == 200
    data = mine.json()["data"]
    assert data["status"] == "success" and data["rows_processed"] == 170 and data["percent"] == 100
    assert [t["target_table"] for t in data["tables"]] == ["main.customers", "main.orders"]
    hidden = api(other_user).get(f"/api/executions/{pk}")
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "NOT_FOUND"
    assert (
        api(other_user).get("/api/executions/999999").json() == hidden.json()
    )  # indistinguishable
    assert api(admin_user).get(f"/api/executions/{pk}").status_code == 200
    assert api(None).get(f"/api/executions/{pk}").status_code == 401


def test_cancel_matrix(api, owner, other_user, admin_user, runs):
    queued = runs["queued"]
    assert api(owner).post(f"/api/executions/{queued.pk}/cancel").status_code == 404
    assert api(None).post(f"/api/executions/{queued.pk}/cancel").status_code == 401
    queued.refresh_from_db()
    assert queued.status == ExecutionStatus.QUEUED and not queued.cancel_requested
    response = api(other_user).post(f"/api/executions/{queued.pk}/cancel")
    assert response.status_code == 200 and response.json()["data"]["status"] == "cancelled"
    again = api(admin_user).post(f"/api/executions/{queued.pk}/cancel")
    assert again.status_code == 409


def test_admin_cancels_anyones_running_execution(api, admin_user, runs):
    queued = runs["queued"]
    Execution.objects.filter(pk=queued.pk).update(status=ExecutionStatus.RUNNING)
    response = api(admin_user).post(f"/api/executions/{queued.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["data"]["cancel_requested"] is True
    assert response.json()["data"]["status"] == "running"  # the worker stops it between batches


def test_report_json_and_csv(api, owner, other_user, runs):
    pk = runs["done"].pk
    report = api(owner).get(f"/api/executions/{pk}/report").json()["data"]
    assert report["fk_ok"] is True and len(report["leak_checks"]) == 3
    response = api(owner).get(f"/api/executions/{pk}/report", {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    leak_rows = [r for r in rows if r["section"] == "leak_check"]
    assert {r["column"] for r in leak_rows} == {"email", "first_name", "last_name"}
    assert all(r["result"] == "ok" and r["equal"] == "0" for r in leak_rows)
    assert api(other_user).get(f"/api/executions/{pk}/report").status_code == 404
    assert api(other_user).get(f"/api/executions/{runs['queued'].pk}/report").status_code == 409


def test_report_csv_neutralises_formulas_in_names(api, owner, runs):
    execution = runs["done"]
    execution.report = {
        "tables": [
            {
                "table": "=cmd|'/C calc'!A0",
                "rows_read": 1,
                "rows_written": 1,
                "rows_masked": 1,
                "seconds": 0.1,
                "rows_per_s": 10.0,
            }
        ],
        "leak_checks": [
            {
                "table": "@evil",
                "column": "+col",
                "technique": "-x",
                "sampled": 1,
                "equal": 0,
                "ok": True,
            }
        ],
    }
    execution.save(update_fields=["report"])
    response = api(owner).get(f"/api/executions/{execution.pk}/report", {"format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    cells = [cell for row in rows for cell in row]
    assert {"'=cmd|'/C calc'!A0", "'@evil", "'+col", "'-x"} <= set(cells)
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
