"""Step 2 of the wizard: a subset is configured, its row estimates shown, and it is saved with
the workflow; a subset that starts outside the chosen tables is refused."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from apps.workflows.models import Workflow
from tests.workflows.test_subset_api import TABLES, body

pytestmark = pytest.mark.django_db

STEP2 = {
    "table": ["main.customers", "main.orders", "main.payments"],
    "col:main.customers": ["id", "email"],
    "col:main.orders": ["id", "customer_id", "total"],
    "col:main.payments": ["id", "order_id", "amount"],
}


def kept(html: str, table: str) -> tuple[int, int]:
    found = re.search(
        rf'data-table="{table}">.*?data-testid="kept">(\d+)</td><td class="num">(\d+)<', html
    )
    assert found, html
    return int(found[1]), int(found[2])


def start(client, source, target) -> None:
    client.get(reverse("workflows:create") + "?restart=1")
    client.post(
        reverse("workflows:create"),
        {
            "name": "Subset",
            "source_connection_id": source.pk,
            "target_connection_id": target.pk,
            "locale": "en_US",
        },
    )


def test_estimates_then_step_two_keeps_the_subset(page, owner, demo_conns):
    source, target = demo_conns
    client = page(owner)
    start(client, source, target)
    form = {**STEP2, "subset_root": "main.customers", "subset_size": "rows"}
    estimate = client.post(reverse("workflows:create_subset"), {**form, "subset_amount": "4"})
    text = estimate.content.decode()
    assert 'data-testid="subset-estimate"' in text
    assert kept(text, "main.customers") == (4, 40)
    orders = client.post(
        reverse("workflows:create_subset"),
        {**form, "subset_amount": "4", "subset_children": "none"},
    ).content.decode()
    assert kept(orders, "main.orders")[0] == 0 and kept(orders, "main.payments")[0] == 0
    refused = client.post(
        reverse("workflows:create_subset"), {**form, "subset_amount": "4", "subset_where": "x = 1"}
    )
    assert "unknown column" in refused.content.decode()

    step2 = client.post(reverse("workflows:create_step", args=[2]), {**form, "subset_amount": "4"})
    assert step2.status_code == 302
    shown = client.get(reverse("workflows:create_step", args=[2])).content.decode()
    assert 'value="main.customers"' in shown and 'value="4"' in shown
    session = client.session
    state = next(v for k, v in session.items() if isinstance(v, dict) and "basics" in v)
    assert state["subset"]["roots"][0] == {
        "schema": "main",
        "table": "customers",
        "where": None,
        "percent": None,
        "rows": "4",
    }


def test_at_most_n_children_per_parent_from_the_wizard(page, owner, demo_conns):
    source, target = demo_conns
    client = page(owner)
    start(client, source, target)
    # every customer: which ones a sample keeps depends on the wizard's key, the totals do not
    form = {**STEP2, "subset_root": "main.customers", "subset_size": "percent"}
    form["subset_amount"] = "100"
    every, total = kept(
        client.post(reverse("workflows:create_subset"), form).content.decode(), "main.orders"
    )
    assert every == total > 40  # all children: every order
    limited = {**form, "subset_children": "limited", "subset_limit": "1"}
    one_each = client.post(reverse("workflows:create_subset"), limited).content.decode()
    assert 0 < kept(one_each, "main.orders")[0] <= 40  # at most one per customer
    refused = client.post(
        reverse("workflows:create_subset"), {**limited, "subset_limit": "0"}
    ).content.decode()
    assert "limit of at least 1" in refused
    assert client.post(reverse("workflows:create_step", args=[2]), limited).status_code == 302
    shown = client.get(reverse("workflows:create_step", args=[2])).content.decode()
    assert 'value="limited" selected' in shown and 'name="subset_limit" value="1"' in shown
    state = next(v for k, v in client.session.items() if isinstance(v, dict) and "basics" in v)
    assert (state["subset"]["children"], state["subset"]["limit"]) == ("limited", "1")


def test_subset_outside_the_chosen_tables_is_refused(page, owner, demo_conns):
    source, target = demo_conns
    client = page(owner)
    start(client, source, target)
    response = client.post(
        reverse("workflows:create_step", args=[2]),
        {**STEP2, "subset_root": "main.employees", "subset_amount": "10"},
    )
    assert response.status_code == 400
    assert "one of the selected tables" in response.content.decode()
    bad = client.post(
        reverse("workflows:create_step", args=[2]),
        {**STEP2, "subset_root": "main.customers", "subset_amount": "250"},
    )
    assert bad.status_code == 400 and "at most 100" in bad.content.decode()


def test_edit_wizard_shows_the_saved_subset(api, page, owner, other_user, demo_conns):
    source, target = demo_conns
    created = api(owner).post("/api/workflows", body(source, target), format="json")
    w = Workflow.objects.get(pk=created.json()["data"]["id"])
    client = page(owner)
    client.get(reverse("workflows:edit", args=[w.pk]) + "?restart=1")
    shown = client.get(reverse("workflows:edit_step", args=[w.pk, 2])).content.decode()
    assert "subset-root" in shown, shown
    assert 'value="main.customers"' in shown and 'value="25' in shown, shown[
        shown.index("subset-root") - 300 :
    ]
    form = {"table": [f"main.{t}" for t in TABLES], "subset_root": "main.customers"}
    sized = client.post(
        reverse("workflows:edit_subset", args=[w.pk]), {**form, "subset_amount": "25"}
    )
    assert 'data-testid="subset-estimate"' in sized.content.decode()
    other = page(other_user).post(
        reverse("workflows:edit_subset", args=[w.pk]), {**form, "subset_amount": "25"}
    )
    assert other.status_code == 403
