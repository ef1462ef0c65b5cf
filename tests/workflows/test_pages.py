import re

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.workflows.models import Workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow(api, owner, target_with_customers):
    source, target = target_with_customers
    from tests.workflows.test_api import body

    wid = (
        api(owner).post("/api/workflows", body(source, target), format="json").json()["data"]["id"]
    )
    return Workflow.objects.get(pk=wid)


ACTORS = ["admin", "owner", "other", "anonymous"]


def actor(who, admin_user, owner, other_user):
    return {"admin": admin_user, "owner": owner, "other": other_user, "anonymous": None}[who]


@pytest.mark.parametrize("who, status", list(zip(ACTORS, [200, 200, 200, 302], strict=True)))
def test_list_and_detail_visible_to_signed_in_users(
    page, admin_user, owner, other_user, workflow, who, status
):
    client = page(actor(who, admin_user, owner, other_user))
    assert client.get(reverse("workflows:list")).status_code == status
    response = client.get(reverse("workflows:detail", args=[workflow.pk]))
    assert response.status_code == status
    if status == 200:
        assert b"main.customers" in response.content and b"first_name" in response.content
        assert (b'data-testid="edit-workflow"' in response.content) == (who in ("admin", "owner"))


@pytest.mark.parametrize("who, status", list(zip(ACTORS, [200, 200, 403, 302], strict=True)))
def test_edit_wizard_delete_and_toggle_owner_or_admin(
    page, admin_user, owner, other_user, workflow, who, status
):
    client = page(actor(who, admin_user, owner, other_user))
    assert client.get(reverse("workflows:edit", args=[workflow.pk])).status_code == status
    assert client.get(reverse("workflows:delete", args=[workflow.pk])).status_code == status
    toggled = client.post(reverse("workflows:toggle", args=[workflow.pk]))
    workflow.refresh_from_db()
    assert workflow.status == ("inactive" if status == 200 else "active")
    if status == 200:
        assert toggled.status_code == 302
        assert AuditEvent.objects.filter(action="workflow.deactivate").count() == 1
    client.post(reverse("workflows:delete", args=[workflow.pk]))
    assert Workflow.objects.filter(pk=workflow.pk).exists() == (status != 200)


def test_edit_wizard_is_prefilled_and_saves_changes(page, owner, workflow):
    client = page(owner)
    step1 = client.get(reverse("workflows:edit", args=[workflow.pk]) + "?restart=1")
    assert step1.status_code == 200 and workflow.name.encode() in step1.content
    basics = {
        "name": "Renamed workflow",
        "description": "",
        "source_connection_id": workflow.source_connection_id,
        "target_connection_id": workflow.target_connection_id,
        "locale": "en_CA",
    }
    assert client.post(reverse("workflows:edit", args=[workflow.pk]), basics).status_code == 302
    step3 = client.get(reverse("workflows:edit_step", args=[workflow.pk, 3]))
    assert step3.status_code == 200
    field = "main.customers|email"
    assert f'name="t:{field}"'.encode() in step3.content
    post = {
        "t:main.customers|first_name": "first_name",
        "d:main.customers|first_name": "on",
        f"t:{field}": "hash",
        f"p:{field}:length": "20",
        f"d:{field}": "on",
    }
    assert (
        client.post(reverse("workflows:edit_step", args=[workflow.pk, 3]), post).status_code == 302
    )
    target = {
        "target_mode": "append",
        "create:main.customers": "existing",
        "schema:main.customers": "main",
        "table:main.customers": "customers",
        "filter:main.customers": "id <= 20",
        "copy:main.customers": "on",
        "max_source_readers": "3",
        "action": "save",
    }
    response = client.post(reverse("workflows:edit_step", args=[workflow.pk, 4]), target)
    assert response.status_code == 302, response.context["issues"]
    workflow.refresh_from_db()
    assert workflow.max_source_readers == 3
    shown = client.get(reverse("workflows:detail", args=[workflow.pk]) + "?drift=0")
    assert "at most 3 units at once" in shown.content.decode()
    mapping = workflow.mappings.get()
    assert (
        workflow.name == "Renamed workflow"
        and workflow.locale == "en_CA"
        and workflow.target_mode == "append"
    )
    assert mapping.row_filter == "id <= 20"
    assert {r["source_column"]: r["technique"] for r in mapping.column_mappings}["email"] == "hash"


def _to_step_four(client, source, target, name: str, rules: dict) -> None:  # type: ignore[no-untyped-def]
    """Steps 1-3 of a new workflow on main.customers' email and first_name."""
    client.get(reverse("workflows:create") + "?restart=1")
    client.post(
        reverse("workflows:create"),
        {
            "name": name,
            "source_connection_id": source.pk,
            "target_connection_id": target.pk,
            "locale": "en_US",
        },
    )
    client.post(
        reverse("workflows:create_step", args=[2]),
        {"table": ["main.customers"], "col:main.customers": ["email", "first_name"]},
    )
    client.post(reverse("workflows:create_step", args=[3]), rules)


def _step_four(client, action: str, **extra: str):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("workflows:create_step", args=[4]),
        {
            "target_mode": "truncate",
            "create:main.customers": "existing",
            "schema:main.customers": "main",
            "table:main.customers": "customers",
            "action": action,
            **extra,
        },
    )


def test_wizard_save_lists_every_problem_and_saves_nothing(page, owner, target_with_customers):
    source, target = target_with_customers
    client = page(owner)
    rules = {
        "t:main.customers|email": "fixed_value",
        "p:main.customers|email:value": "a@b.c",
        "d:main.customers|email": "on",
        "t:main.customers|first_name": "null_out",
    }
    _to_step_four(client, source, target, "Broken", rules)
    response = _step_four(client, "save", **{"filter:main.customers": "1=1; DROP TABLE customers"})
    assert response.status_code == 400
    text = response.content.decode()
    assert (
        "cannot guarantee unique" in text and "writes NULL" in text and "single predicate" in text
    )
    assert Workflow.objects.count() == 0


def test_review_step_shows_what_the_save_would_refuse_before_saving(
    page, owner, target_with_customers, monkeypatch
):
    """Step 4 checks the would-be workflow with the engine, on one connection to each
    database, and shows each table's problems beside it; nothing is saved."""
    from apps.connections import services as connections

    source, target = target_with_customers
    client = page(owner)
    rules = {"t:main.customers|email": "fixed_value", "p:main.customers|email:value": "a@b.c"}
    _to_step_four(client, source, target, "Review", rules)
    opened = []
    real = connections.dialect_open
    monkeypatch.setattr(
        connections, "dialect_open", lambda params: opened.append(params) or real(params)
    )
    response = _step_four(client, "refresh")
    assert response.status_code == 200
    html = response.content.decode()
    block = html.split('data-testid="problems-customers"', 1)[1].split("</div>", 1)[0]
    assert "&#x27;email&#x27;" in block and "cannot guarantee unique" in block
    assert len(opened) == 2
    assert Workflow.objects.count() == 0


def test_basics_step_rejects_same_database(page, owner, target_with_customers):
    source, _ = target_with_customers
    response = page(owner).post(
        reverse("workflows:create"),
        {
            "name": "x",
            "source_connection_id": source.pk,
            "target_connection_id": source.pk,
            "locale": "en_US",
        },
    )
    assert response.status_code == 400 and b"different databases" in response.content


def test_row_count_preview(page, owner, target_with_customers):
    source, target = target_with_customers
    client = page(owner)
    client.get(reverse("workflows:create") + "?restart=1")
    client.post(
        reverse("workflows:create"),
        {
            "name": "Count",
            "source_connection_id": source.pk,
            "target_connection_id": target.pk,
            "locale": "en_US",
        },
    )
    client.post(
        reverse("workflows:create_step", args=[2]),
        {"table": ["main.customers"], "col:main.customers": ["email"]},
    )
    ok = client.post(
        reverse("workflows:create_rowcount"),
        {"table_key": "main.customers", "filter:main.customers": "id <= 10"},
    )
    assert b"10 of 40 rows selected" in ok.content
    bad = client.post(
        reverse("workflows:create_rowcount"),
        {"table_key": "main.customers", "filter:main.customers": "id IN (SELECT 1)"},
    )
    assert b"subqueries are not allowed" in bad.content


def test_connection_in_use_cannot_be_deleted(api, page, owner, workflow):
    from apps.connections.models import Connection

    source = workflow.source_connection
    response = api(owner).delete(f"/api/connections/{source.pk}")
    assert response.status_code == 409
    assert (
        response.json()["error"]["code"] == "CONNECTION_IN_USE"
        and workflow.name in response.json()["error"]["message"]
    )
    confirm = page(owner).get(f"/connections/{source.pk}/delete/")
    assert b"is used by" in confirm.content and workflow.name.encode() in confirm.content
    page(owner).post(f"/connections/{source.pk}/delete/")
    assert Connection.objects.filter(pk=source.pk).exists()


def test_review_step_names_the_columns_that_stay_joinable(page, owner, tmp_path):
    """A consistency group of two columns of different lengths is shown with its tightest."""
    from tests.executions.scenario import make_workflow

    workflow, _, _ = make_workflow(tmp_path, owner)
    orders = workflow.mappings.get(source_table="orders")
    orders.column_mappings = [
        {"source_column": "note", "technique": "first_name", "target_column": "note"}
    ]
    orders.save()
    client = page(owner)
    assert client.get(f"/workflows/{workflow.pk}/edit/?restart=1").status_code == 200
    response = client.get(f"/workflows/{workflow.pk}/edit/step/4/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="joinable"' in html
    assert (
        "2 columns masked with &#x27;first_name&#x27; give the same output for the same value, "
        "so they stay joinable: main.customers.first_name, main.orders.note (all take the form "
        "that fits main.customers.first_name, 40 characters)"
    ) in html
    assert "&#x27;email&#x27; give" not in html  # a column masked alone forms no group to show


@pytest.mark.parametrize("who, sees", [("admin", True), ("owner", True), ("other", False)])
def test_list_shows_only_last_runs_the_viewer_may_see(
    page, admin_user, owner, other_user, workflow, who, sees
):
    from apps.executions.models import Execution

    Execution.objects.create(workflow=workflow, executed_by=owner, status="failed")
    html = (
        page(actor(who, admin_user, owner, other_user))
        .get(reverse("workflows:list"))
        .content.decode()
    )
    assert workflow.name in html
    assert ("status-failed" in html) is sees
    assert ("never" in html) is not sees


def _wizard_at_step_2(client, source, target, name: str):
    """A new workflow's wizard, its basics saved."""
    basics = {
        "name": name,
        "description": "",
        "source_connection_id": source.pk,
        "target_connection_id": target.pk,
        "locale": "en_US",
    }
    assert client.post(reverse("workflows:create") + "?restart=1", basics).status_code == 302
    return client


def test_wizard_columns_follow_the_ticked_boxes(page, owner, demo_conns):
    """Step 2 asks for a table's columns with every ticked box of the schema: an unticked
    table gets none, and a foreign-key hint counts the tables ticked on the page now."""
    client = _wizard_at_step_2(page(owner), *demo_conns, "Ticks")
    url = reverse("workflows:create_columns")

    def columns(name: str, ticked: list[str]) -> str:
        response = client.get(url, {"schema": "main", "name": name, "table": ticked})
        assert response.status_code == 200
        return response.content.decode()

    assert columns("payments", []) == ""  # unticked: its columns go
    assert columns("payments", ["main.customers"]) == ""
    alone = columns("payments", ["main.payments"])
    assert 'data-testid="columns-payments"' in alone and "card_number" in alone
    assert 'data-fk-ref="main.orders"' in alone and '<span data-when="included" hidden>' in alone
    assert '<span data-when="missing">: include it too' in alone
    with_parent = columns("payments", ["main.payments", "main.orders"])
    assert '<span data-when="missing" hidden>' in with_parent
    assert '<span data-when="included"> — included' in with_parent
    picked = client.get(
        url,
        {
            "schema": "main",
            "name": "payments",
            "table": ["main.payments"],
            "chosen_given": "1",
            "chosen": ["id", "amount"],
        },
    ).content.decode()
    boxes = re.findall(r'value="(\w+)"\s*(checked)?>', picked)
    assert {name for name, ticked in boxes if ticked} == {"id", "amount"}
    assert len(boxes) > 2
    # posted, as a chosen table loads (a wide table's list does not fit in a URL)
    wide = ["id", "amount"] + [f"unknown_{i:04d}" for i in range(900)]
    posted = client.post(
        url,
        {
            "schema": "main",
            "name": "payments",
            "table": ["main.payments"],
            "chosen_given": "1",
            "chosen": wide,
        },
    ).content.decode()
    boxes = re.findall(r'value="(\w+)"\s*(checked)?>', posted)
    assert {name for name, ticked in boxes if ticked} == {"id", "amount"}
    missing = client.get(url, {"schema": "main", "name": "nope", "table": ["main.nope"]})
    assert missing.status_code == 404 and b"Table not found" in missing.content


def test_wizard_tables_carry_the_choice_of_other_schemas(page, owner, demo_conns):
    client = _wizard_at_step_2(page(owner), *demo_conns, "Carry")
    url = reverse("workflows:create_tables")
    first = client.post(url, {"schema": "main"}).content.decode()  # nothing chosen yet
    assert 'name="tables_shown"' in first and "chosen-elsewhere" not in first
    posted = {
        "schema": "main",
        "tables_shown": "1",
        "table": ["main.customers", 'hr."x"'],
        "col:main.customers": ["id", "email"],
        'col:hr."x"': ["a", "b"],
    }
    body = client.post(url, posted).content.decode()
    assert "hr.&quot;x&quot;</code> (2 columns)" in body  # shown, escaped
    assert '<input type="hidden" name="table" value="hr.&quot;x&quot;">' in body
    assert 'name="col:hr.&quot;x&quot;" value="b"' in body
    assert 'name="table" value="main.customers" id="tbl-' in body.replace("\n", " ")
    # the ticked table loads its columns as chosen, posted with the list
    assert "&quot;chosen&quot;: [&quot;id&quot;, &quot;email&quot;]" in body
    assert 'value="main.orders" id="tbl-' in body and body.count("checked") == 1


def test_rules_step_warns_of_personal_data_left_unmasked(page, owner, demo_conns):
    """A column discovery found personal in warns while it is kept as it is: in words that say
    how sensitive it is, and hidden (for the page's script to show) while it is masked."""
    client = _wizard_at_step_2(page(owner), *demo_conns, "Warn")
    client.post(
        reverse("workflows:create_step", args=[2]),
        {"table": ["main.customers"], "col:main.customers": ["id", "email", "ssn", "credit_limit"]},
    )
    step3 = reverse("workflows:create_step", args=[3])

    def warnings(rules: dict) -> dict[str, str]:
        client.post(step3, rules)
        html = client.get(step3).content.decode()
        found = {}
        for column in ("id", "email", "ssn", "credit_limit"):
            row = html.split(f'<tr data-column="{column}">', 1)[1].split("</tr>", 1)[0]
            hit = re.search(r"data-unmasked-warning( hidden)?>([^<]+)<", row)
            if hit:
                found[column] = ("hidden " if hit.group(1) else "") + hit.group(2)
        return found

    kept = {f"t:main.customers|{c}": "keep" for c in ("id", "email", "ssn", "credit_limit")}
    assert warnings(kept) == {
        "email": "Personal data left unmasked",
        "ssn": "High sensitivity column left unmasked",
    }
    masked = {**kept, "t:main.customers|email": "hash", "t:main.customers|ssn": "null_out"}
    assert warnings(masked) == {
        "email": "hidden Personal data left unmasked",
        "ssn": "hidden High sensitivity column left unmasked",
    }


def test_target_step_shows_the_foreign_keys_a_created_table_gets(page, owner, demo_conns):
    """A created table references the workflow's other tables where they land; a key to a
    table the workflow leaves out is not made."""
    client = _wizard_at_step_2(page(owner), *demo_conns, "Keys")
    client.post(
        reverse("workflows:create_step", args=[2]),
        {"table": ["main.payments", "main.orders"],
         "col:main.payments": ["id", "order_id", "amount"],
         "col:main.orders": ["id", "customer_id", "total"]},
    )  # fmt: skip
    client.post(reverse("workflows:create_step", args=[3]), {})
    html = client.get(reverse("workflows:create_step", args=[4])).content.decode()

    def ddl(table: str) -> str:
        return html.split(f'data-testid="ddl-{table}"><code>', 1)[1].split("</code>", 1)[0]

    assert "FOREIGN KEY (&quot;order_id&quot;) REFERENCES &quot;orders&quot; (&quot;id&quot;)" in (
        ddl("payments")
    )
    assert "FOREIGN KEY" not in ddl("orders")  # customers and employees are not copied
