"""A full run and a failing run over PII-rich demo data leave no personal data or secret in the
logs, the stored execution error, the API responses or the audit trail."""

from __future__ import annotations

import json
import logging
import re
import sqlite3

import pytest
from django.conf import settings as dj_settings

from apps.audit.models import AuditEvent
from apps.connections.models import Connection
from apps.core.demo import build_source, build_target
from apps.executions.models import Execution
from apps.executions.services import execution_run

pytestmark = pytest.mark.django_db

DB_PASSWORD = "Sup3r-Secret-DB-Passw0rd!"
RULES = [
    {"source_column": "first_name", "technique": "first_name"},
    {"source_column": "last_name", "technique": "last_name"},
    {"source_column": "email", "technique": "email"},
    {"source_column": "phone", "technique": "phone"},
    {"source_column": "ssn", "technique": "ssn"},
    {"source_column": "notes", "technique": "free_text_redact"},
]


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def all_logs(caplog):
    handler = Collect()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    yield lambda: "\n".join(handler.lines + [caplog.text])
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.fixture
def demo(settings, tmp_path, owner):
    settings.DATA_DIR = tmp_path
    build_source(tmp_path / "src.sqlite3", rows=40)
    build_target(tmp_path / "tgt.sqlite3")
    source = Connection.objects.create(
        name="demo-src", dialect="sqlite", database=str(tmp_path / "src.sqlite3"), created_by=owner
    )
    source.set_password(DB_PASSWORD)  # SQLite ignores it; it must still never surface
    source.save()
    target = Connection.objects.create(
        name="demo-tgt", dialect="sqlite", database=str(tmp_path / "tgt.sqlite3"), created_by=owner
    )
    return source, target


def source_pii(path) -> dict[str, set[str]]:
    db = sqlite3.connect(path)
    try:
        out = {
            "full names": {
                f"{a} {b}" for a, b in db.execute("SELECT first_name, last_name FROM customers")
            },
            "emails": {
                r[0]
                for r in db.execute("SELECT email FROM customers UNION SELECT email FROM employees")
            },
            "phones": {
                r[0] for r in db.execute("SELECT phone FROM customers WHERE phone IS NOT NULL")
            },
            "ssns": {r[0] for r in db.execute("SELECT ssn FROM customers WHERE ssn IS NOT NULL")},
            "sins": {r[0] for r in db.execute("SELECT sin FROM employees WHERE sin IS NOT NULL")},
            "cards": {r[0] for r in db.execute("SELECT card_number FROM payments")},
            "card holders": {r[0] for r in db.execute("SELECT card_holder FROM payments")},
        }
    finally:
        db.close()
    assert all(out.values()), out
    return out


def secrets_of(workflow) -> dict[str, set[str]]:
    keys = set()
    for item in dj_settings.FIELD_ENCRYPTION_KEYS.split(","):
        keys.add(item.split(":", 1)[1])
    secret = workflow.get_secret()
    return {
        "db password": {DB_PASSWORD},
        "encryption keys": keys,
        "workflow secret": {secret.hex(), secret.hex().upper(), workflow.secret_encrypted},
    }


def leaks(text: str, forbidden: dict[str, set[str]]) -> list[str]:
    found = []
    for kind, values in forbidden.items():
        for value in values:
            if value and re.search(re.escape(value), text, flags=re.IGNORECASE):
                found.append(f"{kind}: {value}")
    return found


def create_workflow(api, owner, source, target, *, name, mode="truncate", create_target=True):
    body = {
        "name": name,
        "source_connection_id": source.pk,
        "target_connection_id": target.pk,
        "status": "active",
        "target_mode": mode,
        "mappings": [
            {
                "source_schema": "main",
                "source_table": "customers",
                "target_schema": "main",
                "target_table": "customers",
                "create_target": create_target,
                "copy_unmapped": True,
                "column_mappings": RULES,
            }
        ],
    }
    response = api(owner).post("/api/workflows", body, format="json")
    assert response.status_code == 201, response.json()
    from apps.workflows.models import Workflow

    return Workflow.objects.get(pk=response.json()["data"]["id"])


def run_via_api(api, owner, workflow) -> tuple[Execution, list[str]]:
    started = api(owner).post(f"/api/workflows/{workflow.pk}/execute")
    assert started.status_code == 202, started.json()
    execution = execution_run(execution_id=started.json()["data"]["id"])
    responses = [started.content.decode()]
    for url in (
        f"/api/executions/{execution.pk}",
        "/api/executions",
        f"/api/workflows/{workflow.pk}",
        "/api/connections",
        f"/api/connections/{workflow.source_connection_id}",
    ):
        response = api(owner).get(url)
        assert response.status_code == 200
        responses.append(response.content.decode())
    return execution, responses


def audit_text() -> str:
    return json.dumps(
        [
            {k: v for k, v in e.items() if k not in ("prev_hash", "hash")}
            for e in AuditEvent.objects.values()
        ],
        default=str,
    )


def test_successful_run_leaks_nothing(api, owner, demo, all_logs):
    source, target = demo
    pii = source_pii(source.database)
    workflow = create_workflow(api, owner, source, target, name="mask customers")
    execution, responses = run_via_api(api, owner, workflow)
    assert execution.status == "success", execution.error_message
    assert execution.rows_processed == 40
    # the target really is masked: a leak check of the run itself
    db = sqlite3.connect(target.database)
    emails = {r[0] for r in db.execute("SELECT email FROM customers")}
    db.close()
    assert len(emails) == 40 and not (emails & pii["emails"])

    forbidden = {**pii, **secrets_of(workflow)}
    logs = all_logs()
    assert leaks(logs, forbidden) == []
    assert leaks(json.dumps(execution.report) + execution.error_message, forbidden) == []
    assert leaks("\n".join(responses), forbidden) == []
    assert leaks(audit_text(), forbidden) == []


def test_failing_run_leaks_nothing(api, owner, demo, all_logs, tmp_path):
    source, _ = demo
    pii = source_pii(source.database)
    # a target whose customers table already holds a clear copy of source row 1: append collides
    build_target(tmp_path / "tgt2.sqlite3")
    src = sqlite3.connect(source.database)
    ddl = src.execute("SELECT sql FROM sqlite_master WHERE name = 'customers'").fetchone()[0]
    row = src.execute("SELECT * FROM customers WHERE id = 1").fetchone()
    src.close()
    db = sqlite3.connect(tmp_path / "tgt2.sqlite3")
    db.execute(ddl)
    db.execute(f"INSERT INTO customers VALUES ({','.join('?' * len(row))})", row)
    db.commit()
    db.close()
    target = Connection.objects.create(
        name="demo-tgt2",
        dialect="sqlite",
        database=str(tmp_path / "tgt2.sqlite3"),
        created_by=owner,
    )
    workflow = create_workflow(
        api, owner, source, target, name="mask customers append", mode="append", create_target=False
    )
    execution, responses = run_via_api(api, owner, workflow)
    assert execution.status == "failed" and execution.error_message
    assert AuditEvent.objects.filter(
        action="execution.fail", resource_id=str(execution.pk)
    ).exists()

    forbidden = {**pii, **secrets_of(workflow)}
    logs = all_logs()
    assert f"execution {execution.pk} failed" in logs
    assert leaks(logs, forbidden) == []
    assert leaks(execution.error_message, forbidden) == []
    assert leaks("\n".join(responses), forbidden) == []
    assert leaks(audit_text(), forbidden) == []
    # the colliding target row is untouched and the run wrote nothing
    db = sqlite3.connect(tmp_path / "tgt2.sqlite3")
    assert db.execute("SELECT count(*) FROM customers").fetchone()[0] == 1
    db.close()


def test_the_leak_detector_detects(owner, demo, all_logs):
    """The check itself can fail: a value logged in clear is found (before redaction would
    apply)."""
    source, _ = demo
    pii = source_pii(source.database)
    name = sorted(pii["full names"])[0]
    logging.getLogger("maskflow.test").warning("customer %s", name)
    assert leaks(all_logs(), {"full names": {name}}) == [f"full names: {name}"]
    email = sorted(pii["emails"])[0]
    logging.getLogger("maskflow.test").warning("mail %s", email)
    assert (
        leaks(all_logs(), {"emails": {email}}) == []
    )  # e-mail addresses are redacted on the way in
