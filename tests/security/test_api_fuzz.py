"""Property-based fuzzing of every API operation in /api/schema/ (schemathesis) against the live
test server, as an administrator, a user and an anonymous caller: no 5xx, and every JSON answer
is an envelope. Deep nesting and bodies over the size limit get 4xx too."""

from __future__ import annotations

import json
import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from apps.accounts.tokens import token_issue

# Operations that open outbound connections to whatever host the fuzzer invents.
SKIP = {("POST", "/api/connections/test"), ("POST", "/api/connections/{id}/test")}
NOT_ENVELOPED = {"/api/schema/", "/api/docs/"}
EXAMPLES = 6
BUDGET_SECONDS = 180
CALLERS = ("admin", "user", "anonymous")


def envelope_problem(body) -> str | None:
    if not isinstance(body, dict):
        return "not a JSON object"
    if body.get("success") is True:
        return (
            None
            if set(body) == {"success", "data", "message"} and isinstance(body["message"], str)
            else f"bad success keys {sorted(body)}"
        )
    if body.get("success") is False:
        error = body.get("error")
        if set(body) != {"success", "error"} or not isinstance(error, dict):
            return f"bad error keys {sorted(body)}"
        if set(error) != {"code", "message", "details"}:
            return f"bad error fields {sorted(error)}"
        return (
            None
            if isinstance(error["code"], str) and isinstance(error["message"], str)
            else "bad error types"
        )
    return "no success flag"


def test_envelope_checker_rejects_bad_shapes():
    assert envelope_problem({"success": True, "data": 1, "message": ""}) is None
    assert (
        envelope_problem({"success": False, "error": {"code": "X", "message": "m", "details": []}})
        is None
    )
    assert envelope_problem({"data": 1}) == "no success flag"
    assert envelope_problem({"success": True, "data": 1}) is not None
    assert envelope_problem({"success": False, "error": {"code": "X"}}) is not None
    assert envelope_problem([]) == "not a JSON object"


@pytest.fixture
def fuzz_world(transactional_db, settings, tmp_path, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    from apps.executions.models import Execution
    from apps.notifications.models import Notification
    from apps.schedules.models import Schedule
    from tests.executions.scenario import make_workflow
    from tests.factories import AdminFactory, UserFactory

    # the fuzzer is one client at one address: lift the rate limits so every request is exercised
    monkeypatch.setattr(
        SimpleRateThrottle,
        "THROTTLE_RATES",
        {"user": "100000/min", "ip": "100000/min", "login": "100000/min"},
    )
    settings.DATA_DIR = tmp_path
    admin = AdminFactory(username="fuzz_admin")
    user = UserFactory(username="fuzz_user")
    workflow, _, _ = make_workflow(tmp_path / "wf", user, customers=5, orders=5, name="fuzz-wf")
    execution = Execution.objects.create(
        workflow=workflow,
        executed_by=user,
        status="success",
        rows_processed=5,
        rows_masked=5,
        report={"tables": []},
    )
    schedule = Schedule.objects.create(workflow=workflow, cron="0 2 * * 1", created_by=user)
    notification = Notification.objects.create(
        workflow=workflow, channel="email", emails="qa@example.com", created_by=user
    )
    ids = {
        "schedules": schedule.pk,
        "notifications": notification.pk,
        "connections": workflow.source_connection_id,
        "workflows": workflow.pk,
        "executions": execution.pk,
    }
    return {"admin": token_issue(user=admin)[0], "user": token_issue(user=user)[0], "ids": ids}


def load_schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return json.loads(
        json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str)
    )


def fixed_path(path: str, ids: dict) -> dict:
    out = {}
    for name, value in ids.items():
        if path.startswith(f"/api/{name}/") and "{id}" in path:
            out["id"] = value
    if "{seq}" in path:
        out["seq"] = 1
    if "{schema}" in path:
        out["schema"] = "main"
    if "{table}" in path:
        out["table"] = "customers"
    return out


def test_api_fuzz(live_server, fuzz_world):
    raw = load_schema()
    assert len(raw["paths"]) >= 15
    schema = schemathesis.openapi.from_dict(raw)
    operations = []
    for result in schema.get_all_operations():
        op = result.ok()
        if (op.method.upper(), op.path) in SKIP or op.path in NOT_ENVELOPED:
            continue
        operations.append(op)
    operations.sort(key=lambda op: (op.method.upper() == "DELETE", op.path))  # deletes last
    assert {op.path for op in operations} >= {
        "/api/audit",
        "/api/workflows/{id}/unmask",
        "/api/workflows/{id}/execute",
    }

    failures: list[str] = []
    seen = {"requests": 0, "statuses": set(), "unsatisfiable": 0}
    started = time.monotonic()
    http = requests.Session()

    def exercise(op, who: str, mode, path_parameters):
        headers = {"Authorization": f"Bearer {fuzz_world[who]}"} if who != "anonymous" else {}

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy(generation_mode=mode, path_parameters=path_parameters or None))
        def run(case):
            if time.monotonic() - started > BUDGET_SECONDS:
                return
            response = case.call(
                base_url=live_server.url, headers=headers, session=http, timeout=30
            )
            seen["requests"] += 1
            seen["statuses"].add(response.status_code)
            label = (
                f"{who} {case.method} {case.formatted_path} query={case.query} body={case.body!r}"[
                    :600
                ]
            )
            if response.status_code >= 500:
                failures.append(f"{response.status_code}: {label}")
                return
            content_type = response.headers.get("Content-Type", [""])
            content_type = content_type[0] if isinstance(content_type, list) else content_type
            if "json" in content_type:
                problem = envelope_problem(json.loads(response.content or b"null"))
                if problem:
                    failures.append(f"envelope ({problem}) {response.status_code}: {label}")

        try:
            run()
        except Unsatisfiable:  # nothing to negate (an operation without inputs): no case to send
            seen["unsatisfiable"] += 1

    for op in operations:
        fixed = fixed_path(op.path, fuzz_world["ids"])
        for who in CALLERS:
            exercise(op, who, GenerationMode.POSITIVE, fixed)
            exercise(op, who, GenerationMode.NEGATIVE, fixed)
            if fixed:
                exercise(op, who, GenerationMode.POSITIVE, None)

    assert seen["requests"] >= 3 * len(operations), seen
    assert {200, 400} <= seen["statuses"] and (403 in seen["statuses"] or 404 in seen["statuses"])
    assert failures == [], "\n".join(failures)


def nested(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


HOSTILE_BODIES = {
    "nested 100,000 deep": nested(100_000),
    "nested 900 deep": nested(900),
    "array nested 50,000 deep": b"[" * 50_000 + b"]" * 50_000,
    "5 MB": b'{"name": "' + b"x" * (5 * 1024 * 1024) + b'"}',
    "10 MB of technique params": (
        b'{"name": "w", "source_connection_id": 1, "target_connection_id": 2, "mappings": '
        b'[{"source_table": "t", "column_mappings": [{"source_column": "c", "technique": '
        b'"fixed_value", "params": {"value": "' + b"y" * (10 * 1024 * 1024) + b'"}}]}]}'
    ),
    "a 2 MB parameter": (
        b'{"name": "w", "source_connection_id": 1, "target_connection_id": 2, "mappings": '
        b'[{"source_table": "t", "column_mappings": [{"source_column": "c", "technique": '
        b'"regex_replace", "params": {"pattern": "' + b"a" * (2 * 1024 * 1024) + b'"}}]}]}'
    ),
}


def test_deep_nesting_and_huge_bodies_get_4xx(live_server, fuzz_world):
    """Every operation that takes a body, for every caller, with bodies that once made 500s."""
    raw = load_schema()
    targets = [("POST", "/api/auth/login")]
    for path, item in raw["paths"].items():
        for method in item:
            if method.upper() in ("POST", "PUT", "PATCH") and path not in NOT_ENVELOPED:
                targets.append((method.upper(), path))
    targets = sorted(set(targets))
    http = requests.Session()
    problems: list[str] = []
    statuses: set[int] = set()
    for method, path in targets:
        url = live_server.url + path.format(**fixed_path(path, fuzz_world["ids"]))
        for who in CALLERS:
            headers = {"Content-Type": "application/json"}
            if who != "anonymous":
                headers["Authorization"] = f"Bearer {fuzz_world[who]}"
            for label, data in HOSTILE_BODIES.items():
                response = http.request(method, url, data=data, headers=headers, timeout=60)
                statuses.add(response.status_code)
                if response.status_code >= 500:
                    problems.append(f"{response.status_code}: {who} {method} {path} {label}")
                elif "json" in response.headers.get("Content-Type", ""):
                    problem = envelope_problem(response.json())
                    if problem:
                        problems.append(f"envelope ({problem}): {who} {method} {path} {label}")
    assert len(targets) >= 8
    assert problems == [], "\n".join(problems)
    assert {400, 401, 413} <= statuses, statuses  # parse errors, anonymous callers, size limit
