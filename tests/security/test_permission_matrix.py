"""Seed 002 section 8.4, row by row: every page and API endpoint, for an administrator, a user
acting on their own resources or another user's, and an anonymous visitor.

Resources belong to one of three accounts (admin, owner, other). A row's `target` says whose
resource the request touches: "own" (the actor's own; anonymous touches the owner's), "others"
(someone else's: admin -> owner's, owner -> other's, other -> owner's) or "owner" (always the
owner's). Every refused request (401/403/404, or an anonymous redirect to the login page) must
leave the application's rows exactly as they were; every allowed change must change them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.apps import apps

from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

ACTORS = ("admin", "owner", "other", "anon")
TRACKED = (
    "accounts.User",
    "connections.Connection",
    "workflows.Workflow",
    "workflows.TableMapping",
    "executions.Execution",
    "executions.ExecutionTable",
    "schedules.Schedule",
    "notifications.Notification",
)


@dataclass
class World:
    users: dict
    conns: dict = field(
        default_factory=dict
    )  # actor -> (source, target) used by the actor's workflow
    spare: dict = field(default_factory=dict)  # actor -> a connection no workflow uses
    workflows: dict = field(default_factory=dict)
    executions: dict = field(default_factory=dict)
    schedules: dict = field(default_factory=dict)
    notifications: dict = field(default_factory=dict)

    def whose(self, actor: str, target: str) -> str:
        if target == "own":
            return "owner" if actor == "anon" else actor
        if target == "others":
            return {"admin": "owner", "owner": "other", "other": "owner", "anon": "owner"}[actor]
        return "owner"


@pytest.fixture
def world(settings, tmp_path, admin_user, owner, other_user):
    from apps.executions.models import Execution
    from apps.notifications.models import Notification
    from apps.schedules.models import Schedule
    from tests.connections.factories import ConnectionFactory, make_sqlite_file
    from tests.executions.scenario import make_workflow

    settings.DATA_DIR = tmp_path
    w = World(users={"admin": admin_user, "owner": owner, "other": other_user, "anon": None})
    for actor in ("admin", "owner", "other"):
        user = w.users[actor]
        wf, _, _ = make_workflow(tmp_path / actor, user, customers=5, orders=5, name=f"wf-{actor}")
        w.workflows[actor] = wf
        w.conns[actor] = (wf.source_connection, wf.target_connection)
        w.spare[actor] = ConnectionFactory(
            name=f"spare-{actor}",
            database=str(make_sqlite_file(f"spare-{actor}.db")),
            created_by=user,
        )
        w.executions[actor] = Execution.objects.create(
            workflow=wf, executed_by=user, status="success", rows_processed=5, rows_masked=5
        )
        w.schedules[actor] = Schedule.objects.create(workflow=wf, cron="0 2 * * 1", created_by=user)
        w.notifications[actor] = Notification.objects.create(
            workflow=wf, channel="email", emails="qa@example.com", created_by=user
        )
    return w


def snapshot() -> dict:
    out = {}
    for label in TRACKED:
        model = apps.get_model(label)
        out[label] = sorted(repr(sorted(row.items())) for row in model.objects.values())
    return out


# --- requests -------------------------------------------------------------------------------------
def conn_form(conn, **over):
    data = {
        "name": conn.name,
        "dialect": "sqlite",
        "database": conn.database,
        "role_hint": "both",
        "host": "",
        "port": "",
        "username": "",
        "password": "",
    }
    data.update(over)
    return data


def wf_api_body(wf, **over):
    from apps.workflows.services import workflow_as_input

    data = workflow_as_input(wf)
    data.update(over)
    return data


def basics(w, whose, name):
    src, tgt = w.conns[whose]
    return {
        "name": name,
        "description": "",
        "source_connection_id": src.pk,
        "target_connection_id": tgt.pk,
        "locale": "en_US",
    }


def new_connection_body(w, actor):
    from tests.connections.factories import make_sqlite_file

    return {
        "name": f"new-{actor}",
        "dialect": "sqlite",
        "database": str(make_sqlite_file(f"new-{actor}.db")),
        "role_hint": "both",
    }


def new_user_body(actor):
    return {
        "username": f"made-by-{actor}",
        "email": "",
        "role": "user",
        "password": "a-long-unusual-passphrase-9",
    }


@dataclass(frozen=True)
class Row:
    matrix: str  # the seed row
    channel: str  # page | api
    expect: tuple  # statuses for admin, owner, other, anon
    call: Callable  # (client, world, actor, whose) -> response
    target: str = "owner"  # own | others | owner
    mutates: bool | None = (
        False  # allowed request must change rows (True), must not (False), either (None)
    )
    check: Callable | None = None  # (response, world, actor) -> bool, for allowed requests


def _ids(body) -> set:
    return {e["id"] for e in body["data"]["results"]}


def _exec_list_ok(response, w, actor):
    visible = _ids(response.json())
    everyone = {e.pk for e in w.executions.values()}
    return visible == everyone if actor == "admin" else visible == {w.executions[actor].pk}


def _exec_page_ok(response, w, actor):
    html = response.content.decode()
    shown = {a for a, e in w.executions.items() if f'/executions/{e.pk}/"' in html}
    return shown == ({"admin", "owner", "other"} if actor == "admin" else {actor})


P, A = "page", "api"
ROWS = [
    # --- Login / Logout ---------------------------------------------------------------------------
    Row(
        "Login / Logout",
        P,
        (302, 302, 302, 200),
        lambda c, w, a, o: (
            c.get("/accounts/login/")
            if a == "anon"
            else c.post(
                "/accounts/login/", {"username": w.users[a].username, "password": TEST_PASSWORD}
            )
        ),
        mutates=None,
    ),
    Row(
        "Login / Logout",
        A,
        (200, 200, 200, 200),
        lambda c, w, a, o: c.post(
            "/api/auth/login",
            {"username": w.users[o].username, "password": TEST_PASSWORD},
            format="json",
        ),
        target="own",
        mutates=None,
    ),
    Row(
        "Login / Logout",
        P,
        (302, 302, 302, 302),
        lambda c, w, a, o: c.post("/accounts/logout/"),
        mutates=None,
    ),
    # --- View own profile -------------------------------------------------------------------------
    Row(
        "View own profile", P, (200, 200, 200, 302), lambda c, w, a, o: c.get("/accounts/profile/")
    ),
    Row(
        "View own profile",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.get("/api/auth/me"),
        check=lambda r, w, a: r.json()["data"]["username"] == w.users[a].username,
    ),
    # --- Connections ------------------------------------------------------------------------------
    Row(
        "View all connections",
        P,
        (200, 200, 200, 302),
        lambda c, w, a, o: c.get("/connections/"),
        check=lambda r, w, a: all(x.name in r.content.decode() for x in w.spare.values()),
    ),
    Row(
        "View all connections",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.get("/api/connections"),
        check=lambda r, w, a: (
            {x.pk for x in w.spare.values()} <= {x["id"] for x in r.json()["data"]}
        ),
    ),
    Row(
        "View all connections",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.get(f"/api/connections/{w.spare[o].pk}"),
        target="others",
    ),
    Row(
        "Create connection",
        P,
        (302, 302, 302, 302),
        lambda c, w, a, o: c.post(
            "/connections/new/",
            {**new_connection_body(w, a), "host": "", "port": "", "username": "", "password": ""},
        ),
        mutates=True,
    ),
    Row(
        "Create connection",
        A,
        (201, 201, 201, 401),
        lambda c, w, a, o: c.post("/api/connections", new_connection_body(w, a), format="json"),
        mutates=True,
    ),
    Row(
        "Edit own connection",
        P,
        (302, 302, 302, 302),
        lambda c, w, a, o: c.post(
            f"/connections/{w.spare[o].pk}/edit/", conn_form(w.spare[o], name=f"renamed-{a}")
        ),
        target="own",
        mutates=True,
    ),
    Row(
        "Edit own connection",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.put(
            f"/api/connections/{w.spare[o].pk}", {"name": f"renamed-{a}"}, format="json"
        ),
        target="own",
        mutates=True,
    ),
    Row(
        "Edit others' connection",
        P,
        (302, 403, 403, 302),
        lambda c, w, a, o: c.post(
            f"/connections/{w.spare[o].pk}/edit/", conn_form(w.spare[o], name=f"renamed-{a}")
        ),
        target="others",
        mutates=True,
    ),
    Row(
        "Edit others' connection",
        P,
        (200, 403, 403, 302),
        lambda c, w, a, o: c.get(f"/connections/{w.spare[o].pk}/edit/"),
        target="others",
    ),
    Row(
        "Edit others' connection",
        A,
        (200, 403, 403, 401),
        lambda c, w, a, o: c.put(
            f"/api/connections/{w.spare[o].pk}", {"name": f"renamed-{a}"}, format="json"
        ),
        target="others",
        mutates=True,
    ),
    Row(
        "Delete own connection",
        P,
        (302, 302, 302, 302),
        lambda c, w, a, o: c.post(f"/connections/{w.spare[o].pk}/delete/"),
        target="own",
        mutates=True,
    ),
    Row(
        "Delete own connection",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.delete(f"/api/connections/{w.spare[o].pk}"),
        target="own",
        mutates=True,
    ),
    Row(
        "Delete others' connection",
        P,
        (302, 403, 403, 302),
        lambda c, w, a, o: c.post(f"/connections/{w.spare[o].pk}/delete/"),
        target="others",
        mutates=True,
    ),
    Row(
        "Delete others' connection",
        A,
        (200, 403, 403, 401),
        lambda c, w, a, o: c.delete(f"/api/connections/{w.spare[o].pk}"),
        target="others",
        mutates=True,
    ),
    Row(
        "Test connection",
        P,
        (302, 302, 302, 302),
        lambda c, w, a, o: c.post(f"/connections/{w.spare[o].pk}/test/"),
        target="others",
        mutates=None,
    ),
    Row(
        "Test connection",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.post(f"/api/connections/{w.spare[o].pk}/test"),
        target="others",
        mutates=None,
        check=lambda r, w, a: r.json()["data"]["ok"] is True,
    ),
    # --- Workflows --------------------------------------------------------------------------------
    Row(
        "View all workflows",
        P,
        (200, 200, 200, 302),
        lambda c, w, a, o: c.get("/workflows/"),
        check=lambda r, w, a: all(x.name in r.content.decode() for x in w.workflows.values()),
    ),
    Row(
        "View all workflows",
        P,
        (200, 200, 200, 302),
        lambda c, w, a, o: c.get(f"/workflows/{w.workflows[o].pk}/?drift=0"),
        target="others",
    ),
    Row(
        "View all workflows",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.get("/api/workflows"),
        check=lambda r, w, a: (
            {x.pk for x in w.workflows.values()} == {x["id"] for x in r.json()["data"]}
        ),
    ),
    Row(
        "View all workflows",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.get(f"/api/workflows/{w.workflows[o].pk}"),
        target="others",
    ),
    # the technique catalogue the workflow editor offers, at its path and its deprecated one
    Row(
        "View all workflows",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.get("/api/techniques"),
        mutates=False,
        check=lambda r, w, a: "email" in {t["name"] for t in r.json()["data"]["string"]},
    ),
    Row(
        "View all workflows",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.get("/api/pii-attributes"),
        mutates=False,
    ),
    Row(
        "Create workflow",
        P,
        (302, 302, 302, 302),
        lambda c, w, a, o: c.post("/workflows/new/", basics(w, o, f"made-{a}")),
        target="own",
        mutates=None,
        check=lambda r, w, a: r["Location"] == "/workflows/new/step/2/",
    ),
    Row(
        "Create workflow",
        A,
        (201, 201, 201, 401),
        lambda c, w, a, o: c.post(
            "/api/workflows", wf_api_body(w.workflows[o], name=f"made-{a}"), format="json"
        ),
        target="own",
        mutates=True,
    ),
    Row(
        "Edit own workflow",
        P,
        (302, 302, 302, 302),
        lambda c, w, a, o: c.post(
            f"/workflows/{w.workflows[o].pk}/edit/", basics(w, o, f"edited-{a}")
        ),
        target="own",
        mutates=None,
        check=lambda r, w, a: "/edit/step/2/" in r["Location"],
    ),
    Row(
        "Edit own workflow",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.put(
            f"/api/workflows/{w.workflows[o].pk}",
            wf_api_body(w.workflows[o], description=f"by {a}"),
            format="json",
        ),
        target="own",
        mutates=True,
    ),
    Row(
        "Edit others' workflow",
        P,
        (302, 403, 403, 302),
        lambda c, w, a, o: c.post(
            f"/workflows/{w.workflows[o].pk}/edit/", basics(w, o, f"edited-{a}")
        ),
        target="others",
        mutates=None,
    ),
    Row(
        "Edit others' workflow",
        P,
        (302, 403, 403, 302),
        lambda c, w, a, o: c.post(f"/workflows/{w.workflows[o].pk}/toggle/"),
        target="others",
        mutates=True,
    ),
    Row(
        "Edit own workflow",
        P,
        (302, 302, 302, 302),
        lambda c, w, a, o: c.post(f"/workflows/{w.workflows[o].pk}/rotate-key/"),
        target="own",
        mutates=True,
        check=lambda r, w, a: r["Location"].startswith("/workflows/"),
    ),
    Row(
        "Edit own workflow",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.post(f"/api/workflows/{w.workflows[o].pk}/rotate-key"),
        target="own",
        mutates=True,
        check=lambda r, w, a: r.json()["data"]["key_version"].startswith("v2-"),
    ),
    Row(
        "Edit others' workflow",
        P,
        (302, 403, 403, 302),
        lambda c, w, a, o: c.post(f"/workflows/{w.workflows[o].pk}/rotate-key/"),
        target="others",
        mutates=True,
    ),
    Row(
        "Edit others' workflow",
        A,
        (200, 403, 403, 401),
        lambda c, w, a, o: c.post(f"/api/workflows/{w.workflows[o].pk}/rotate-key"),
        target="others",
        mutates=True,
    ),
    Row(
        "Edit own workflow",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.post(
            f"/api/workflows/{w.workflows[o].pk}/subset-estimate", {}, format="json"
        ),
        target="own",
        mutates=False,
        check=lambda r, w, a: r.json()["data"] == {"tables": []},
    ),
    Row(
        "Edit others' workflow",
        A,
        (200, 403, 403, 401),
        lambda c, w, a, o: c.post(
            f"/api/workflows/{w.workflows[o].pk}/subset-estimate", {}, format="json"
        ),
        target="others",
        mutates=False,
    ),
    Row(
        "Edit others' workflow",
        A,
        (200, 403, 403, 401),
        lambda c, w, a, o: c.put(
            f"/api/workflows/{w.workflows[o].pk}",
            wf_api_body(w.workflows[o], description=f"by {a}"),
            format="json",
        ),
        target="others",
        mutates=True,
    ),
    Row(
        "Delete own workflow",
        P,
        (302, 302, 302, 302),
        lambda c, w, a, o: c.post(f"/workflows/{w.workflows[o].pk}/delete/"),
        target="own",
        mutates=True,
    ),
    Row(
        "Delete own workflow",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.delete(f"/api/workflows/{w.workflows[o].pk}"),
        target="own",
        mutates=True,
    ),
    Row(
        "Delete others' workflow",
        P,
        (302, 403, 403, 302),
        lambda c, w, a, o: c.post(f"/workflows/{w.workflows[o].pk}/delete/"),
        target="others",
        mutates=True,
    ),
    Row(
        "Delete others' workflow",
        A,
        (200, 403, 403, 401),
        lambda c, w, a, o: c.delete(f"/api/workflows/{w.workflows[o].pk}"),
        target="others",
        mutates=True,
    ),
    Row(
        "Execute own workflow",
        P,
        (302, 302, 302, 302),
        lambda c, w, a, o: c.post(f"/executions/run/{w.workflows[o].pk}/"),
        target="own",
        mutates=True,
    ),
    Row(
        "Execute own workflow",
        A,
        (202, 202, 202, 401),
        lambda c, w, a, o: c.post(f"/api/workflows/{w.workflows[o].pk}/execute"),
        target="own",
        mutates=True,
    ),
    Row(
        "Execute others' workflow",
        P,
        (302, 403, 403, 302),
        lambda c, w, a, o: c.post(f"/executions/run/{w.workflows[o].pk}/"),
        target="others",
        mutates=True,
    ),
    Row(
        "Execute others' workflow",
        A,
        (202, 403, 403, 401),
        lambda c, w, a, o: c.post(f"/api/workflows/{w.workflows[o].pk}/execute"),
        target="others",
        mutates=True,
    ),
    # --- Schedules --------------------------------------------------------------------------------
    Row(
        "Schedule own workflow",
        P,
        (302, 302, 302, 302),
        lambda c, w, a, o: c.post(
            f"/schedules/workflow/{w.workflows[o].pk}/add/", {"cron": "0 3 * * *"}
        ),
        target="own",
        mutates=True,
    ),
    Row(
        "Schedule own workflow",
        A,
        (201, 201, 201, 401),
        lambda c, w, a, o: c.post(
            f"/api/workflows/{w.workflows[o].pk}/schedules", {"cron": "0 3 * * *"}, format="json"
        ),
        target="own",
        mutates=True,
    ),
    Row(
        "Schedule others' workflow",
        P,
        (302, 403, 403, 302),
        lambda c, w, a, o: c.post(
            f"/schedules/workflow/{w.workflows[o].pk}/add/", {"cron": "0 3 * * *"}
        ),
        target="others",
        mutates=True,
    ),
    Row(
        "Schedule others' workflow",
        A,
        (201, 403, 403, 401),
        lambda c, w, a, o: c.post(
            f"/api/workflows/{w.workflows[o].pk}/schedules", {"cron": "0 3 * * *"}, format="json"
        ),
        target="others",
        mutates=True,
    ),
    Row(
        "View schedules",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.get(f"/api/workflows/{w.workflows[o].pk}/schedules"),
        target="others",
    ),
    Row(
        "View schedules",
        P,
        (200, 200, 200, 302),
        lambda c, w, a, o: c.get("/schedules/"),
        check=lambda r, w, a: f'data-testid="schedule-{w.schedules["other"].pk}"' in r.text,
    ),
    Row(
        "View schedules",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.get("/api/schedules"),
        check=lambda r, w, a: (
            {s.pk for s in w.schedules.values()} <= {s["id"] for s in r.json()["data"]}
        ),
    ),
    Row(
        "Change own schedule",
        P,
        (302, 302, 302, 302),
        lambda c, w, a, o: c.post(f"/schedules/{w.schedules[o].pk}/pause/"),
        target="own",
        mutates=True,
    ),
    Row(
        "Change own schedule",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.patch(
            f"/api/schedules/{w.schedules[o].pk}", {"paused": True}, format="json"
        ),
        target="own",
        mutates=True,
    ),
    Row(
        "Change others' schedule",
        P,
        (302, 403, 403, 302),
        lambda c, w, a, o: c.post(f"/schedules/{w.schedules[o].pk}/pause/"),
        target="others",
        mutates=True,
    ),
    Row(
        "Change others' schedule",
        A,
        (200, 403, 403, 401),
        lambda c, w, a, o: c.patch(
            f"/api/schedules/{w.schedules[o].pk}", {"cron": "5 4 * * *"}, format="json"
        ),
        target="others",
        mutates=True,
    ),
    Row(
        "Delete others' schedule",
        P,
        (302, 403, 403, 302),
        lambda c, w, a, o: c.post(f"/schedules/{w.schedules[o].pk}/delete/"),
        target="others",
        mutates=True,
    ),
    Row(
        "Delete others' schedule",
        A,
        (200, 403, 403, 401),
        lambda c, w, a, o: c.delete(f"/api/schedules/{w.schedules[o].pk}"),
        target="others",
        mutates=True,
    ),
    # --- Notifications ----------------------------------------------------------------------------
    Row(
        "Add notification to own workflow",
        P,
        (302, 302, 302, 302),
        lambda c, w, a, o: c.post(
            f"/notifications/workflow/{w.workflows[o].pk}/add/",
            {"channel": "email", "when": "both", "target": "dba@example.com"},
        ),
        target="own",
        mutates=True,
    ),
    Row(
        "Add notification to own workflow",
        A,
        (201, 201, 201, 401),
        lambda c, w, a, o: c.post(
            f"/api/workflows/{w.workflows[o].pk}/notifications",
            {"channel": "email", "when": "both", "target": "dba@example.com"},
            format="json",
        ),
        target="own",
        mutates=True,
    ),
    Row(
        "Add notification to others' workflow",
        P,
        (302, 403, 403, 302),
        lambda c, w, a, o: c.post(
            f"/notifications/workflow/{w.workflows[o].pk}/add/",
            {"channel": "email", "when": "both", "target": "dba@example.com"},
        ),
        target="others",
        mutates=True,
    ),
    Row(
        "Add notification to others' workflow",
        A,
        (201, 403, 403, 401),
        lambda c, w, a, o: c.post(
            f"/api/workflows/{w.workflows[o].pk}/notifications",
            {"channel": "email", "when": "both", "target": "dba@example.com"},
            format="json",
        ),
        target="others",
        mutates=True,
    ),
    Row(
        "View notifications",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.get(f"/api/workflows/{w.workflows[o].pk}/notifications"),
        target="others",
    ),
    Row(
        "Remove others' notification",
        P,
        (302, 403, 403, 302),
        lambda c, w, a, o: c.post(f"/notifications/{w.notifications[o].pk}/delete/"),
        target="others",
        mutates=True,
    ),
    Row(
        "Remove others' notification",
        A,
        (200, 403, 403, 401),
        lambda c, w, a, o: c.delete(f"/api/notifications/{w.notifications[o].pk}"),
        target="others",
        mutates=True,
    ),
    Row(
        "View a run's deliveries",
        A,
        (200, 404, 404, 401),
        lambda c, w, a, o: c.get(f"/api/executions/{w.executions[o].pk}/deliveries"),
        target="others",
    ),
    # --- Executions -------------------------------------------------------------------------------
    Row(
        "View all execution history",
        P,
        (200, 200, 200, 302),
        lambda c, w, a, o: c.get("/executions/"),
        check=_exec_page_ok,
    ),
    Row(
        "View all execution history",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.get("/api/executions", {"page_size": 200}),
        check=_exec_list_ok,
    ),
    Row(
        "View all execution history",
        P,
        (200, 404, 404, 302),
        lambda c, w, a, o: c.get(f"/executions/{w.executions[o].pk}/"),
        target="others",
    ),
    Row(
        "View all execution history",
        A,
        (200, 404, 404, 401),
        lambda c, w, a, o: c.get(f"/api/executions/{w.executions[o].pk}"),
        target="others",
    ),
    Row(
        "View own execution history",
        P,
        (200, 200, 200, 302),
        lambda c, w, a, o: c.get(f"/executions/{w.executions[o].pk}/"),
        target="own",
    ),
    Row(
        "View own execution history",
        A,
        (200, 200, 200, 401),
        lambda c, w, a, o: c.get(f"/api/executions/{w.executions[o].pk}"),
        target="own",
    ),
    # --- System -----------------------------------------------------------------------------------
    Row("View system logs", P, (200, 403, 403, 302), lambda c, w, a, o: c.get("/audit/")),
    Row("View system logs", A, (200, 403, 403, 401), lambda c, w, a, o: c.get("/api/audit/verify")),
    Row("Manage users", P, (200, 403, 403, 302), lambda c, w, a, o: c.get("/accounts/users/")),
    Row(
        "Manage users",
        P,
        (302, 403, 403, 302),
        lambda c, w, a, o: c.post("/accounts/users/", new_user_body(a)),
        mutates=True,
    ),
    # a user trying to promote themselves; the admin changes someone else's role
    Row(
        "Change system settings",
        P,
        (302, 403, 403, 302),
        lambda c, w, a, o: c.post(
            f"/accounts/users/{w.users[a if a in ('owner', 'other') else 'owner'].pk}/",
            {"role": "admin", "is_active": "on"},
        ),
        mutates=True,
    ),
    Row("View audit trail", P, (200, 403, 403, 302), lambda c, w, a, o: c.get("/audit/")),
    Row(
        "View audit trail", P, (200, 403, 403, 302), lambda c, w, a, o: c.get("/audit/export.json")
    ),
    Row("View audit trail", A, (200, 403, 403, 401), lambda c, w, a, o: c.get("/api/audit")),
]

CASES = [(row, i, actor) for i, row in enumerate(ROWS) for actor in ACTORS]


@pytest.mark.parametrize(
    "row, index, actor",
    CASES,
    ids=[
        f"{i:02d}-{row.matrix}-{row.channel}-{actor}".replace(" ", "_").replace("'", "")
        for row, i, actor in CASES
    ],
)
def test_permission_matrix(row, index, actor, world, page, api):
    expected = row.expect[ACTORS.index(actor)]
    user = world.users[actor]
    if row.channel == "page":
        client = page(user)
    else:
        client = api(user)
    whose = world.whose(actor, row.target)
    before = snapshot()
    response = row.call(client, world, actor, whose)
    assert response.status_code == expected, (row.matrix, row.channel, actor, response.status_code)
    after = snapshot()
    anon_redirect = actor == "anon" and expected == 302 and row.matrix != "Login / Logout"
    refused = expected in (401, 403, 404) or anon_redirect
    if anon_redirect:
        assert response["Location"].startswith("/accounts/login/"), response["Location"]
    elif expected == 302:
        assert (
            not response["Location"].startswith("/accounts/login/")
            or row.matrix == "Login / Logout"
        )
    if row.channel == "api":
        body = response.json()
        assert body["success"] is (expected < 400)
        if expected >= 400:
            assert set(body["error"]) == {"code", "message", "details"}
    if refused:
        assert after == before, f"a refused request changed data: {row.matrix} as {actor}"
    else:
        if row.mutates is True:
            assert after != before, f"an allowed change changed nothing: {row.matrix} as {actor}"
        elif row.mutates is False:
            assert after == before, f"a read changed data: {row.matrix} as {actor}"
        if row.check is not None:
            assert row.check(response, world, actor), f"{row.matrix} as {actor}: wrong content"


def test_every_seed_row_is_covered():
    seed_rows = {
        "Login / Logout",
        "View own profile",
        "View all connections",
        "Create connection",
        "Edit own connection",
        "Edit others' connection",
        "Delete own connection",
        "Delete others' connection",
        "Test connection",
        "View all workflows",
        "Create workflow",
        "Edit own workflow",
        "Edit others' workflow",
        "Delete own workflow",
        "Delete others' workflow",
        "Execute own workflow",
        "Execute others' workflow",
        "View all execution history",
        "View own execution history",
        "View system logs",
        "Manage users",
        "Change system settings",
        "View audit trail",
    }
    # beyond the seed: schedules (owner or admin changes them; running rights to add one)
    seed_rows |= {
        "Schedule own workflow",
        "Schedule others' workflow",
        "View schedules",
        "Change own schedule",
        "Change others' schedule",
        "Delete others' schedule",
        "Add notification to own workflow",
        "Add notification to others' workflow",
        "View notifications",
        "Remove others' notification",
        "View a run's deliveries",
    }
    assert {row.matrix for row in ROWS} == seed_rows
    api_rows = {row.matrix for row in ROWS if row.channel == "api"}
    # the user administration is page-only: there is no user API
    assert seed_rows - api_rows == {"Manage users", "Change system settings"}


def test_every_api_route_requires_authentication(api):
    """Any /api/ route not listed as public answers 401 to an anonymous caller."""
    from django.urls import get_resolver

    # the last route is the catch-all answering 404 for unknown paths
    public = {"auth/login", "health/db", "schema/", "docs/", ""}

    def walk(patterns, prefix=""):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            else:
                yield prefix + str(p.pattern)

    routes = [r for r in walk(get_resolver().url_patterns) if r.startswith("api/")]
    assert "api/workflows/<int:pk>/execute" in routes and "api/audit" in routes
    for route in routes:
        path = route[len("api/") :]
        if path in public:
            continue
        url = "/" + route.replace("<int:pk>", "1").replace("<int:seq>", "1").replace(
            "<str:schema>", "main"
        ).replace("<str:table>", "t")
        for method in ("get", "post", "put", "delete"):
            response = getattr(api(None), method)(url)
            assert response.status_code in (401, 405), (method, url, response.status_code)
            if response.status_code == 401:
                assert response.json()["error"]["code"] == "UNAUTHORIZED"
