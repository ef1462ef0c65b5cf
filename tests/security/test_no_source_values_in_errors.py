"""Runs that the databases refuse leave no source value anywhere: on PostgreSQL, MariaDB, SQLite
and SQL Server (when one answers on 1433), a cast in a row filter, a unique, NOT NULL and CHECK
violation and a value of the wrong type end in value-free messages. The execution, the audit
trail, the API, the pages and every log line and log file are scanned for the source values.

Each workflow is written straight into the app database (as one saved before today's rules
would be), so the run itself meets what the databases say."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.connections.models import Connection
from apps.executions.models import ExecutionTable
from apps.executions.services import execution_run, execution_start
from apps.workflows.models import TableMapping, Workflow
from masking.dialects import get_dialect
from tests.live.fixtures import (  # noqa: F401
    mariadb_db_factory,
    pg_db_factory,
    sqlserver_db_factory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.live]

NAMES = [f"Zebulon Quixote-Sekret{i}" for i in range(1, 6)]
EMAILS = [f"person{i}.zq@realmail.example" for i in range(1, 6)]
# What must never appear: the values and distinctive parts of them.
FORBIDDEN = [*NAMES, *EMAILS, "Zebulon", "Quixote", "Sekret", "realmail"]

SCHEMA = {"sqlite": "main", "postgresql": "public", "sqlserver": "dbo"}
TYPES = {
    "sqlite": ("INTEGER", "TEXT"),
    "postgresql": ("INT", "VARCHAR(100)"),
    "mysql": ("INT", "VARCHAR(100)"),
    "sqlserver": ("INT", "VARCHAR(100)"),
}
CAST = {
    "sqlite": 'CAST("full_name" AS INTEGER) = 1',
    "postgresql": 'CAST("full_name" AS INT) = 1',
    "mysql": "CAST(`full_name` AS SIGNED) = 1",
    "sqlserver": "CAST([full_name] AS INT) = 1",
}


def target_ddl(dialect: str, scenario: str) -> tuple[str, list[tuple]]:
    i, t = TYPES[dialect]
    full_name = f"full_name {t}"
    note = f"note {t}"
    rows: list[tuple] = []
    if scenario == "unique":
        full_name += " UNIQUE"
        rows = [(99, NAMES[0], EMAILS[0], "x")]
    elif scenario == "not_null":
        note += " NOT NULL"
    elif scenario == "check":
        full_name += " CHECK (full_name NOT LIKE 'Zeb%')"
    elif scenario == "type":
        full_name = f"full_name {i}"
    return f"CREATE TABLE person (id {i} PRIMARY KEY, {full_name}, email {t}, {note})", rows


@pytest.fixture(params=["sqlite", "postgresql", "mysql", "sqlserver"])
def databases(request, tmp_path):
    """(dialect, source params, a factory of target params)."""
    return make_databases(request, tmp_path, request.param)


@pytest.fixture(params=["sqlite", "postgresql"])
def expression_index_databases(request, tmp_path):
    """The databases with unique indexes on expressions, which introspection does not list."""
    return make_databases(request, tmp_path, request.param)


def make_databases(request, tmp_path, name):
    from masking.dialects.base import ConnectionParams

    if name == "sqlite":
        made = iter(range(100))

        def make():
            path = tmp_path / f"db{next(made)}.sqlite3"
            return ConnectionParams(dialect="sqlite", database=str(path), options={"create": True})

    else:
        make = request.getfixturevalue(
            {
                "postgresql": "pg_db_factory",
                "mysql": "mariadb_db_factory",
                "sqlserver": "sqlserver_db_factory",
            }[name]
        )
    source = make()
    i, t = TYPES[name]
    with get_dialect(source) as db:
        db.execute(f"CREATE TABLE person (id {i} PRIMARY KEY, full_name {t}, email {t}, note {t})")
        for n, (full, mail) in enumerate(zip(NAMES, EMAILS, strict=True), start=1):
            note = None if n == 3 else "plain"
            mark = "?" if name in ("sqlite", "sqlserver") else "%s"
            db.execute(
                f"INSERT INTO person VALUES ({mark}, {mark}, {mark}, {mark})", [n, full, mail, note]
            )
    return name, source, make


def connection(params, owner, label: str) -> Connection:
    options = {
        k: v for k, v in params.options.items() if k in ("encrypt", "trust_server_certificate")
    }
    conn = Connection(
        name=label,
        dialect=params.dialect,
        host=params.host,
        port=params.port,
        database=params.database,
        username=params.username,
        options=options,
        created_by=owner,
    )
    conn.set_password(params.password)
    conn.save()
    return conn


def saved_workflow(owner, source, target, dialect, scenario, *, row_filter="") -> Workflow:
    schema = SCHEMA.get(dialect) or source.database
    wf = Workflow(
        name=f"{scenario}-{dialect}",
        source_connection=source,
        target_connection=target,
        created_by=owner,
        target_mode="append" if scenario == "unique" else "truncate",
    )
    wf.new_secret()
    wf.save()
    TableMapping.objects.create(
        workflow=wf,
        source_schema=schema,
        source_table="person",
        target_schema=SCHEMA.get(dialect) or target.database,
        target_table="person",
        row_filter=row_filter,
        copy_unmapped=True,
        column_mappings=[
            {"source_column": "full_name", "technique": "keep", "target_column": "full_name"}
        ],
    )
    return wf


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def logs(settings, tmp_path):
    """Every log line of this process, as the configured handlers would write it, and a log
    file in the data folder like a deployment's."""
    from apps.core.logging import RedactingFormatter

    settings.DATA_DIR = tmp_path
    memory = Collect()
    memory.setFormatter(RedactingFormatter("%(levelname)s %(name)s %(message)s"))
    to_file = logging.FileHandler(tmp_path / "maskflow.log")
    to_file.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    old = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(memory)
    root.addHandler(to_file)
    yield memory
    root.removeHandler(memory)
    root.removeHandler(to_file)
    to_file.close()
    root.setLevel(old)


def leaks(text: str) -> list[str]:
    low = text.lower()
    return [f for f in FORBIDDEN if f.lower() in low]


def everything(api, page, admin_user, owner, execution, memory, capfd, data_dir: Path) -> str:
    execution.refresh_from_db()
    parts = [
        execution.error_message,
        json.dumps(execution.report),
        json.dumps(list(ExecutionTable.objects.filter(execution=execution).values()), default=str),
        json.dumps(list(AuditEvent.objects.values()), default=str),
    ]
    for user in (owner, admin_user):
        for url in (
            f"/api/executions/{execution.pk}",
            "/api/executions",
            f"/api/executions/{execution.pk}/report",
            f"/api/executions/{execution.pk}/report?format=csv",
            f"/api/workflows/{execution.workflow_id}",
        ):
            parts.append(api(user).get(url).content.decode())
    parts.append(api(admin_user).get("/api/audit").content.decode())
    for user, url in (
        (owner, reverse("executions:detail", args=[execution.pk])),
        (owner, reverse("executions:list")),
        (owner, reverse("workflows:detail", args=[execution.workflow_id]) + "?drift=0"),
        (owner, "/"),
        (admin_user, reverse("audit:list")),
    ):
        parts.append(page(user).get(url).content.decode())
    parts.extend(memory.lines)
    out, err = capfd.readouterr()
    parts.extend([out, err])
    for log in data_dir.rglob("*.log"):
        parts.append(log.read_text(errors="replace"))
    return "\n".join(parts)


SCENARIOS = ["cast", "unique", "not_null", "check", "type"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_refused_runs_leave_no_source_value_anywhere(
    databases, scenario, owner, admin_user, api, page, logs, capfd, tmp_path
):
    dialect, source_params, make = databases
    target_params = make()
    ddl, rows = target_ddl(dialect, scenario)
    with get_dialect(target_params) as db:
        db.execute(ddl)
        mark = "?" if dialect in ("sqlite", "sqlserver") else "%s"
        for r in rows:
            db.execute(f"INSERT INTO person VALUES ({mark}, {mark}, {mark}, {mark})", list(r))
    source = connection(source_params, owner, f"src-{scenario}")
    target = connection(target_params, owner, f"tgt-{scenario}")
    workflow = saved_workflow(
        owner,
        source,
        target,
        dialect,
        scenario,
        row_filter=CAST[dialect] if scenario == "cast" else "",
    )
    execution = execution_run(
        execution_id=execution_start(workflow=workflow, by=owner, enqueue=False).pk
    )
    assert execution.status == "failed"
    assert execution.error_message
    if scenario == "check":  # only the database knows this rule: its refusal is what we see
        assert "rule 'check'" in execution.error_message, execution.error_message
    text = everything(api, page, admin_user, owner, execution, logs, capfd, tmp_path)
    assert leaks(text) == [], [line for line in text.splitlines() if leaks(line)][:5]


def test_the_scan_finds_a_leak(owner, admin_user, api, page, logs, capfd, tmp_path):
    """The scan can fail: a value that does reach a log line or a file is found."""
    logging.getLogger("maskflow.test").warning("row of %s", NAMES[0])
    (tmp_path / "worker.log").write_text(f"oops {EMAILS[1]}\n")
    found = leaks("\n".join(logs.lines) + (tmp_path / "worker.log").read_text())
    assert "Zebulon" in found and EMAILS[1] in found


def test_a_cast_filter_cannot_be_saved(api, owner, tmp_path, settings):
    from tests.executions.scenario import make_source, make_target

    settings.DATA_DIR = tmp_path
    src = Connection.objects.create(
        name="s", dialect="sqlite", database=str(make_source(tmp_path / "s.db")), created_by=owner
    )
    tgt = Connection.objects.create(
        name="t", dialect="sqlite", database=str(make_target(tmp_path / "t.db")), created_by=owner
    )
    body = {
        "name": "cast",
        "source_connection_id": src.pk,
        "target_connection_id": tgt.pk,
        "mappings": [
            {
                "source_schema": "main",
                "source_table": "customers",
                "target_schema": "main",
                "target_table": "customers",
                "row_filter": "CAST(first_name AS INT) = 1",
                "copy_unmapped": True,
                "column_mappings": [{"source_column": "email", "technique": "email"}],
            }
        ],
    }
    response = api(owner).post("/api/workflows", body, format="json")
    assert response.status_code == 400
    assert "casts are not allowed" in response.content.decode()


@pytest.mark.parametrize("text", ["full_name = 1", "full_name > CURRENT_DATE"])
def test_row_count_partial_answers_a_database_refusal_without_the_value(
    databases, owner, page, logs, capfd, tmp_path, text
):
    dialect, source_params, make = databases
    source = connection(source_params, owner, "src-count")
    target = connection(make(), owner, "tgt-count")
    schema = SCHEMA.get(dialect) or source.database
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
        {"table": [f"{schema}.person"], f"col:{schema}.person": ["full_name"]},
    )
    response = client.post(
        reverse("workflows:create_rowcount"),
        {"table_key": f"{schema}.person", f"filter:{schema}.person": text},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "rows selected" in body or "field-error" in body, body
    out, err = capfd.readouterr()
    assert leaks("\n".join([body, *logs.lines, out, err])) == []


def test_a_unique_key_only_the_database_knows_is_refused_without_the_value(
    expression_index_databases, owner, admin_user, api, page, logs, capfd, tmp_path
):
    """The engine cannot see a unique index on lower(full_name), so the database itself
    refuses the duplicate, quoting it (PostgreSQL: `Key (lower(full_name))=(zebulon…)`)."""
    dialect, source_params, make = expression_index_databases
    target_params = make()
    with get_dialect(target_params) as db:
        db.execute(target_ddl(dialect, "plain")[0])
        db.execute("CREATE UNIQUE INDEX person_lower_name ON person (lower(full_name))")
        mark = "?" if dialect == "sqlite" else "%s"
        db.execute(
            f"INSERT INTO person VALUES ({mark}, {mark}, {mark}, {mark})",
            [99, NAMES[0].upper(), "x", "x"],
        )
    source = connection(source_params, owner, "src-expr")
    target = connection(target_params, owner, "tgt-expr")
    workflow = saved_workflow(owner, source, target, dialect, "unique")
    execution = execution_run(
        execution_id=execution_start(workflow=workflow, by=owner, enqueue=False).pk
    )
    assert execution.status == "failed"
    # the database's refusal, not the engine's own check: it carries the database's code
    assert "rule 'unique'" in execution.error_message, execution.error_message
    assert "[database code" in execution.error_message, execution.error_message
    text = everything(api, page, admin_user, owner, execution, logs, capfd, tmp_path)
    assert leaks(text) == [], [line for line in text.splitlines() if leaks(line)][:5]
