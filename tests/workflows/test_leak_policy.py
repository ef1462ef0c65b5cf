"""A workflow's leak policy: the share of identifying values a masked column may leave
unchanged, and whether a column over it fails the run or flags it in red."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.executions.services import execution_run, execution_start
from apps.workflows.models import Workflow
from tests.workflows.test_api import body

pytestmark = pytest.mark.django_db

# The demo's SSNs, "masked" by a pattern that matches none of them.
NOTHING = {
    "source_column": "ssn",
    "technique": "regex_replace",
    "target_column": "ssn",
    "params": {"pattern": "^X$", "replacement": "*"},
}


def flow(api, owner, conns, **policy) -> Workflow:
    source, target = conns
    data = body(source, target, **policy)
    data["mappings"][0]["column_mappings"].append(NOTHING)
    data["mappings"][0]["copy_unmapped"] = True
    response = api(owner).post("/api/workflows", data, format="json")
    assert response.status_code == 201, response.json()
    return Workflow.objects.get(pk=response.json()["data"]["id"])


def run(workflow, owner):
    return execution_run(
        execution_id=execution_start(workflow=workflow, by=owner, enqueue=False).pk
    )


def test_default_policy_fails_a_run_that_copies_ssns(api, owner, target_with_customers):
    workflow = flow(api, owner, target_with_customers)
    assert (workflow.leak_max_share, workflow.leak_action) == (0.0, "fail")
    done = run(workflow, owner)
    assert done.status == "failed"
    assert "leak_check" in done.error_message and "ssn" in done.error_message


def test_flag_policy_keeps_the_run_and_shows_the_leak_in_red(
    api, page, owner, target_with_customers
):
    workflow = flow(api, owner, target_with_customers, leak_action="flag")
    done = run(workflow, owner)
    assert done.status == "success", done.error_message
    assert done.report["leak_ok"] is False
    ssn = next(c for c in done.report["leak_checks"] if c["column"] == "ssn")
    assert (ssn["ok"], ssn["pii_type"], ssn["share"]) == (False, "ssn", 1.0)
    html = page(owner).get(reverse("executions:detail", args=[done.pk])).content.decode()
    assert "leaks found" in html and 'class="badge status-failed" data-testid="leak-ok"' in html


def test_a_share_over_the_leak_passes_it(api, owner, target_with_customers):
    workflow = flow(api, owner, target_with_customers, leak_max_share=1.0)
    done = run(workflow, owner)
    assert done.status == "success" and done.report["leak_ok"] is True


def test_policy_is_validated_shown_and_editable(api, page, owner, target_with_customers):
    source, target = target_with_customers
    bad = api(owner).post(
        "/api/workflows",
        body(source, target, leak_max_share=1.5, leak_action="ignore"),
        format="json",
    )
    assert bad.status_code == 400
    fields = {d["field"] for d in bad.json()["error"]["details"]}
    assert {"leak_max_share", "leak_action"} <= fields
    workflow = flow(api, owner, target_with_customers, leak_max_share=0.05, leak_action="flag")
    shown = api(owner).get(f"/api/workflows/{workflow.pk}").json()["data"]
    assert (shown["leak_max_share"], shown["leak_action"]) == (0.05, "flag")
    html = page(owner).get(reverse("workflows:detail", args=[workflow.pk]) + "?drift=0")
    assert (
        "at most 5% unchanged per column; over it: flag it in the report" in html.content.decode()
    )
    edited = api(owner).put(
        f"/api/workflows/{workflow.pk}", {**shown, "leak_action": "fail"}, format="json"
    )
    assert edited.status_code == 200, edited.json()
    workflow.refresh_from_db()
    assert (workflow.leak_max_share, workflow.leak_action) == (0.05, "fail")
