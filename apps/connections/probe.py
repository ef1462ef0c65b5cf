"""Test connection: from a saved connection or from the form before saving; rate-limited per
user and audited with its outcome category."""

from __future__ import annotations

from dataclasses import replace

from django.conf import settings
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.connections import passwordref
from apps.connections.clean import connection_clean
from apps.connections.models import Connection
from apps.connections.services import (
    _allowed_dirs,
    connection_params,
    dialect_open,
    stored_password_for,
    web_timeout,
)
from apps.core.logging import redact_text
from apps.core.ratelimit import rate_check
from masking import ConnectionFailed
from masking.dialects import ConnectionParams, TestResult


def run_test(params: ConnectionParams) -> TestResult:
    params = replace(params, timeout=web_timeout(params.timeout))
    try:
        dialect = dialect_open(params)
    except ConnectionFailed as exc:  # refused by the host policy
        return TestResult(False, exc.category, exc.message)
    except Exception as exc:  # unknown dialect / driver import problems are reported, not raised
        return TestResult(False, "driver_missing", redact_text(str(exc)))
    try:
        result = dialect.test()
    finally:
        dialect.close()
    message = result.message
    if params.password:
        message = message.replace(params.password, "******")
    return TestResult(
        result.ok,
        result.category,
        redact_text(message)[:500],
        result.server_version,
        result.elapsed_ms,
    )


def test_rate_check(by) -> None:
    """Test connection is rate-limited per user (page and API together): its answer tells what
    listens at a host and port, so it must not serve as a fast scanner. Raises RateLimited."""
    rate_check("connection-test", by.pk, getattr(settings, "CONNECTION_TEST_RATE", "10/min"))


def connection_test(*, conn: Connection, by, request=None) -> TestResult:
    test_rate_check(by)
    try:
        result = run_test(connection_params(conn))
    except ConnectionFailed as exc:  # a password reference that names nothing here
        result = TestResult(False, exc.category, exc.message)
    Connection.objects.filter(pk=conn.pk).update(
        last_test_ok=result.ok,
        last_test_category=result.category,
        last_test_message=result.message,
        last_test_at=timezone.now(),
    )
    conn.refresh_from_db(
        fields=["last_test_ok", "last_test_category", "last_test_message", "last_test_at"]
    )
    audit_record(
        action="connection.test",
        request=request,
        actor=by,
        resource_type="connection",
        resource_id=conn.pk,
        status=AuditEvent.Status.SUCCESS if result.ok else AuditEvent.Status.FAILURE,
        details={"name": conn.name, "category": result.category, "elapsed_ms": result.elapsed_ms},
    )
    return result


def connection_test_unsaved(
    *, data: dict, by, request=None, instance: Connection | None = None
) -> TestResult:
    """Test from the form before saving. Editing without retyping the password uses the stored
    one, and only while the destination is the one it was saved for."""
    cleaned = connection_clean(data, instance=instance, check_name=False, by=by, request=request)
    test_rate_check(by)
    password = stored_password_for(instance=instance, cleaned=cleaned)
    try:
        password = passwordref.resolve(password)
    except passwordref.PasswordRefError as exc:
        return TestResult(False, "login_failed", str(exc))
    params = ConnectionParams(
        dialect=cleaned["dialect"],
        host=cleaned["host"],
        port=cleaned["port"],
        database=cleaned["database"],
        username=cleaned["username"],
        password=password,
        options=cleaned["options"],
        timeout=int(cleaned["options"].get("timeout", 10)),
        allowed_dirs=_allowed_dirs(cleaned["dialect"]),
    )
    result = run_test(params)
    audit_record(
        action="connection.test",
        request=request,
        actor=by,
        resource_type="connection",
        resource_id=getattr(instance, "pk", "") or "unsaved",
        status=AuditEvent.Status.SUCCESS if result.ok else AuditEvent.Status.FAILURE,
        details={"dialect": cleaned["dialect"], "category": result.category},
    )
    return result
