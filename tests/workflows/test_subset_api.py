"""A workflow's subset through the API: saved and checked, sized on the source, and run, with
the rows kept per table in the execution report and on its page."""

from __future__ import annotations

import sqlite3

import pytest

from apps.executions import services as executions
from apps.workflows.models import Workflow
from tests.masking.test_subset import sampled_ids

pytestmark = pytest.mark.django_db

TABLES = ("customers", "addresses", "employees", "orders", "payments")
PERCENT = {"roots": [{"table": "customers", "percent": 25}]}


def body(source, target, **over):
    data = {
        "name": "Quarter of the customers",
        "source_connection_id": source.pk,
        "target_connection_id": target.pk,
        "mappings": [
            {
                "source_schema": "main",
                "source_table": t,
                "target_schema": "main",
                "target_table": t,
                "create_target": True,
                "copy_unmapped": True,
                "column_mappings": [],
            }
            for t in TABLES
        ],
        "subset": PERCENT,
    }
    data.update(over)
    return data


def test_subset_saved_sized_and_run(api, owner, other_user, demo_conns, client):
    source, target = demo_conns
    response = api(owner).post("/api/workflows", body(source, target), format="json")
    assert response.status_code == 201, response.json()
    w = Workflow.objects.get(pk=response.json()["data"]["id"])
    assert w.subset["roots"][0]["percent"] == 25
    assert response.json()["data"]["subset"]["roots"][0]["table"] == "customers"

    sized = api(owner).post(f"/api/workflows/{w.pk}/subset-estimate", {}, format="json")
    assert sized.status_code == 200, sized.json()
    kept = {t["table"]: t["kept"] for t in sized.json()["data"]["tables"]}
    customers = sampled_ids(list(range(1, 41)), w.get_secret(), 25)
    assert kept["main.customers"] == len(customers) and 0 < len(customers) < 40
    other = api(owner).post(
        f"/api/workflows/{w.pk}/subset-estimate",
        {"subset": {"roots": [{"table": "customers", "rows": 3}]}},
        format="json",
    )
    assert {t["table"]: t["kept"] for t in other.json()["data"]["tables"]}["main.customers"] == 3
    denied = api(other_user).post(f"/api/workflows/{w.pk}/subset-estimate", {}, format="json")
    assert denied.status_code == 403

    execution = executions.execution_run(
        execution_id=executions.execution_start(workflow=w, by=owner, enqueue=False).pk
    )
    assert execution.status == "success", execution.error_message
    report = {r["table"]: r for r in execution.report["subset"]}
    assert report["main.customers"]["kept"] == len(customers)
    with sqlite3.connect(target.database) as db:
        got = {r[0] for r in db.execute("SELECT id FROM customers")}
        assert got == customers
        assert (
            report["main.orders"]["kept"] == db.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
        )
    client.force_login(owner)
    page = client.get(f"/executions/{execution.pk}/")
    assert b'data-testid="subset-rows"' in page.content
    assert b"Rows kept" in page.content


@pytest.mark.parametrize(
    "subset, field",
    [
        ({"roots": [{"table": "invoices", "percent": 5}]}, "subset.roots[0]"),
        ({"roots": [{"table": "customers", "where": "nope = 1"}]}, "subset.roots[0].where"),
        (
            {"roots": [{"table": "customers", "where": "1=1; DROP TABLE x"}]},
            "subset.roots[0].where",
        ),
        ({"roots": [{"table": "customers", "percent": 120}]}, "subset"),
        ({"roots": [{"table": "customers", "percent": 5, "rows": 3}]}, "subset"),
        ({"roots": [{"table": "customers"}], "children": "some"}, "subset"),
        ("everything", "subset"),
    ],
)
def test_bad_subsets_are_refused_at_save(api, owner, demo_conns, subset, field):
    source, target = demo_conns
    response = api(owner).post("/api/workflows", body(source, target, subset=subset), format="json")
    assert response.status_code == 400, response.json()
    assert field in {e["field"] for e in response.json()["error"]["details"]}
    assert not Workflow.objects.exists()
