import pytest

from apps.audit.models import AuditEvent
from apps.workflows.models import TableMapping, Workflow

pytestmark = pytest.mark.django_db


def body(source, target, **over):
    data = {
        "name": "Mask Customer Data",
        "description": "Mask PII in customers",
        "source_connection_id": source.pk,
        "target_connection_id": target.pk,
        "status": "active",
        "mappings": [
            {
                "source_schema": "main",
                "source_table": "customers",
                "target_schema": "main",
                "target_table": "customers",
                "column_mappings": [
                    {
                        "source_column": "first_name",
                        "technique": "first_name",
                        "target_column": "first_name",
                    },
                    {"source_column": "email", "technique": "email", "target_column": "email"},
                ],
            }
        ],
    }
    data.update(over)
    return data


def test_seed_example_body_creates_workflow(api, owner, target_with_customers):
    source, target = target_with_customers
    response = api(owner).post("/api/workflows", body(source, target), format="json")
    assert response.status_code == 201, response.json()
    payload = response.json()
    assert payload["success"] is True and payload["message"] == "Workflow created successfully"
    data = payload["data"]
    assert (
        data["name"] == "Mask Customer Data" and data["status"] == "active" and data["tables"] == 1
    )
    w = Workflow.objects.get(pk=data["id"])
    rules = w.mappings.get().column_mappings
    assert [r["technique"] for r in rules] == ["first_name", "email"]
    assert rules[1]["data_type"] == "varchar" and rules[1]["deterministic"] is True
    assert "secret" not in str(payload) or "secret_encrypted" not in str(payload)
    assert len(w.get_secret()) == 32
    event = AuditEvent.objects.get(action="workflow.create")
    assert {
        "column": "main.customers.email",
        "from": None,
        "to": {"technique": "email", "params": rules[1]["params"], "deterministic": True},
    } in event.details["rules"]


def _bad(source, target, column_mappings=None, **mapping_over):
    mapping = {
        "source_schema": "main",
        "source_table": "customers",
        "target_schema": "main",
        "target_table": "customers",
        "column_mappings": column_mappings or [{"source_column": "email", "technique": "email"}],
    }
    mapping.update(mapping_over)
    return body(source, target, mappings=[mapping])


CASES = [
    (
        "unknown column",
        dict(column_mappings=[{"source_column": "nope", "technique": "email"}]),
        "mappings[0].column_mappings[0].source_column",
    ),
    (
        "wrong category",
        dict(column_mappings=[{"source_column": "credit_limit", "technique": "first_name"}]),
        "mappings[0].column_mappings[0].technique",
    ),
    (
        "unknown technique",
        dict(column_mappings=[{"source_column": "email", "technique": "teleport"}]),
        "mappings[0].column_mappings[0].technique",
    ),
    (
        "bad params",
        dict(
            column_mappings=[
                {
                    "source_column": "credit_limit",
                    "technique": "noise",
                    "params": {"percent": "lots"},
                }
            ]
        ),
        "mappings[0].column_mappings[0].params.percent",
    ),
    (
        "unknown param",
        dict(
            column_mappings=[
                {"source_column": "email", "technique": "email", "params": {"bogus": 1}}
            ]
        ),
        "mappings[0].column_mappings[0].params.bogus",
    ),
    (
        "not unique on unique column",
        dict(
            column_mappings=[
                {
                    "source_column": "email",
                    "technique": "fixed_value",
                    "params": {"value": "x@example.com"},
                }
            ]
        ),
        "mappings[0].column_mappings[0].technique",
    ),
    (
        "null into NOT NULL",
        dict(column_mappings=[{"source_column": "first_name", "technique": "null_out"}]),
        "mappings[0].column_mappings[0].technique",
    ),
    ("row filter injection", dict(row_filter="1=1; DROP TABLE x"), "mappings[0].row_filter"),
    (
        "row filter subquery",
        dict(row_filter="id IN (SELECT id FROM orders)"),
        "mappings[0].row_filter",
    ),
    ("missing source table", dict(source_table="ghosts"), "mappings[0].source_table"),
    ("missing target table", dict(target_table="ghosts"), "mappings[0].target_table"),
    ("create a table that exists", dict(create_target=True), "mappings[0].target_table"),
    (
        "column mapped twice",
        dict(
            column_mappings=[
                {"source_column": "email", "technique": "email"},
                {"source_column": "first_name", "target_column": "email", "technique": "email"},
            ]
        ),
        "mappings[0].column_mappings[1].target_column",
    ),
    (
        "copy into another category",
        dict(column_mappings=[{"source_column": "credit_limit", "target_column": "email"}]),
        "mappings[0].column_mappings[0].target_column",
    ),
    (
        "column mapping without a source column",
        dict(column_mappings=[{"technique": "email"}]),
        "mappings[0].column_mappings[0].source_column",
    ),
    (
        "random mode on key",
        dict(
            column_mappings=[
                {"source_column": "email", "technique": "email", "deterministic": False}
            ]
        ),
        "mappings[0].column_mappings[0].deterministic",
    ),
]


@pytest.mark.parametrize("label, over, field", CASES, ids=[c[0] for c in CASES])
def test_invalid_mapping_is_rejected_with_field_error_and_nothing_saved(
    api, owner, target_with_customers, label, over, field
):
    source, target = target_with_customers
    response = api(owner).post("/api/workflows", _bad(source, target, **over), format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert (
        error["code"] == "VALIDATION_ERROR" and error["message"] == "Invalid workflow configuration"
    )
    assert field in {d["field"] for d in error["details"]}, error["details"]
    assert Workflow.objects.count() == 0 and TableMapping.objects.count() == 0


def test_same_source_and_target_is_rejected(api, owner, target_with_customers):
    from apps.connections.models import Connection

    source, _ = target_with_customers
    twin = Connection.objects.create(
        name="twin", dialect="sqlite", database=source.database, created_by=owner
    )
    for target in (source, twin):
        response = api(owner).post("/api/workflows", body(source, target), format="json")
        assert response.status_code == 400
        assert "target_connection_id" in {d["field"] for d in response.json()["error"]["details"]}
    assert Workflow.objects.count() == 0


def test_missing_connection_message_matches_seed(api, owner, target_with_customers):
    source, target = target_with_customers
    response = api(owner).post(
        "/api/workflows", body(source, target, source_connection_id=9999), format="json"
    )
    assert {
        "field": "source_connection_id",
        "issue": "Connection with ID 9999 does not exist",
    } in response.json()["error"]["details"]


def test_fk_masked_differently_from_referenced_key_is_rejected(api, owner, demo_conns):
    source, target = demo_conns
    data = body(
        source,
        target,
        mappings=[
            {
                "source_table": "customers",
                "create_target": True,
                "column_mappings": [
                    {"source_column": "id", "technique": "hash_number"},
                    {"source_column": "email", "technique": "email"},
                    {"source_column": "first_name", "technique": "keep"},
                    {"source_column": "last_name", "technique": "keep"},
                    {"source_column": "created_at", "technique": "keep"},
                    {"source_column": "is_active", "technique": "keep"},
                ],
            },
            {
                "source_table": "orders",
                "create_target": True,
                "column_mappings": [
                    {"source_column": "id", "technique": "keep"},
                    {"source_column": "customer_id", "technique": "keep"},
                ],
            },
        ],
    )
    response = api(owner).post("/api/workflows", data, format="json")
    assert response.status_code == 400
    issues = [d["issue"] for d in response.json()["error"]["details"]]
    assert any("customer_id" in i and "same deterministic technique" in i for i in issues), issues


def test_create_target_table_mapping_and_update_audit_lists_changes(api, owner, demo_conns):
    source, target = demo_conns
    data = body(
        source,
        target,
        mappings=[
            {
                "source_table": "customers",
                "create_target": True,
                "copy_unmapped": True,
                "column_mappings": [{"source_column": "email", "technique": "email"}],
            }
        ],
    )
    created = api(owner).post("/api/workflows", data, format="json")
    assert created.status_code == 201, created.json()
    wid = created.json()["data"]["id"]
    data["mappings"][0]["column_mappings"][0] = {
        "source_column": "email",
        "technique": "hash",
        "params": {"length": 24},
    }
    data["mappings"][0]["column_mappings"].append(
        {"source_column": "last_name", "technique": "last_name"}
    )
    updated = api(owner).put(f"/api/workflows/{wid}", data, format="json")
    assert updated.status_code == 200, updated.json()
    changes = AuditEvent.objects.get(action="workflow.update").details["mapping_changes"]
    columns = {c["column"]: c for c in changes}
    assert columns["main.customers.email"]["from"]["technique"] == "email"
    assert columns["main.customers.email"]["to"]["technique"] == "hash"
    assert columns["main.customers.last_name"]["from"] is None


# --- permission matrix rows (seed 8.4): workflows -------------------------------------------------
ROWS = [
    ("view all", "get", "", 200, 200, 200, 401),
    ("view one", "get", "/{id}", 200, 200, 200, 401),
    ("edit", "put", "/{id}", 200, 200, 403, 401),
    ("delete", "delete", "/{id}", 200, 200, 403, 401),
]


@pytest.mark.parametrize("who", ["admin", "owner", "other", "anonymous"])
@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_permission_matrix_workflows_api(
    api, admin_user, owner, other_user, target_with_customers, who, row
):
    source, target = target_with_customers
    action, method, suffix, *expected = row
    wid = (
        api(owner).post("/api/workflows", body(source, target), format="json").json()["data"]["id"]
    )
    actor = {"admin": admin_user, "owner": owner, "other": other_user, "anonymous": None}[who]
    status = expected[["admin", "owner", "other", "anonymous"].index(who)]
    before = (list(Workflow.objects.values()), list(TableMapping.objects.values()))
    payload = body(source, target, name="Renamed") if method == "put" else None
    response = getattr(api(actor), method)(
        f"/api/workflows{suffix.format(id=wid)}", payload, format="json"
    )
    assert response.status_code == status, response.content
    if status >= 400:
        assert (list(Workflow.objects.values()), list(TableMapping.objects.values())) == before


def test_create_requires_sign_in(api, target_with_customers):
    source, target = target_with_customers
    assert api().post("/api/workflows", body(source, target), format="json").status_code == 401
    assert Workflow.objects.count() == 0


def test_preview_shows_partial_sources_and_masked_values(api, owner, target_with_customers):
    import sqlite3

    source, target = target_with_customers
    wid = (
        api(owner).post("/api/workflows", body(source, target), format="json").json()["data"]["id"]
    )
    data = api(owner).post(f"/api/workflows/{wid}/preview").json()["data"]
    table = data["tables"][0]
    assert table["columns"] == ["first_name", "email"] and len(table["rows"]) == 5
    real = {r[0] for r in sqlite3.connect(source.database).execute("SELECT email FROM customers")}
    for row in table["rows"]:
        email = row[1]
        assert email["source"] not in real and "•••" in email["source"]
        assert "@" in email["masked"] and email["masked"] not in real


@pytest.mark.parametrize("path", ["/api/techniques", "/api/pii-attributes"])
def test_technique_catalogue_grouped_by_category(api, owner, path):
    """/api/pii-attributes is the deprecated path of the same catalogue."""
    data = api(owner).get(path).json()["data"]
    assert {"string", "numeric", "date", "datetime", "boolean"} <= set(data)
    names = {t["name"] for t in data["string"]}
    assert {"first_name", "email", "tokenize", "partial_mask"} <= names
    assert "date_shift" not in names and "first_name" not in {t["name"] for t in data["numeric"]}
    assert api().get(path).status_code == 401


def _with_alias(source, target, **cm):
    return _bad(source, target, column_mappings=[{"source_column": "email", **cm}])


def test_deprecated_pii_attribute_is_read_as_technique(api, owner, target_with_customers):
    source, target = target_with_customers
    response = api(owner).post(
        "/api/workflows", _with_alias(source, target, pii_attribute="hash"), format="json"
    )
    assert response.status_code == 201, response.json()
    stored = Workflow.objects.get(pk=response.json()["data"]["id"]).mappings.get().column_mappings
    assert [(r["technique"], "pii_attribute" in r) for r in stored] == [("hash", False)]
    # Output carries both names for the release in which the alias is deprecated.
    out = response.json()["data"]["mappings"][0]["column_mappings"][0]
    assert out["technique"] == "hash" and out["pii_attribute"] == "hash"


def test_technique_and_a_different_alias_are_refused(api, owner, target_with_customers):
    source, target = target_with_customers
    both = _with_alias(source, target, technique="email", pii_attribute="hash")
    response = api(owner).post("/api/workflows", both, format="json")
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert "alias" in details["mappings[0].column_mappings[0].technique"]
    assert not Workflow.objects.exists()
    same = _with_alias(source, target, technique="email", pii_attribute="email")
    assert api(owner).post("/api/workflows", same, format="json").status_code == 201


def test_schema_marks_the_alias_deprecated(api, owner):
    schema = api(owner).get("/api/schema/?format=json").json()
    assert schema["paths"]["/api/pii-attributes"]["get"]["deprecated"] is True
    props = schema["components"]["schemas"]["ColumnMappingInputRequest"]["properties"]
    assert props["pii_attribute"]["deprecated"] is True and "deprecated" not in props["technique"]
