"""Connection writes, and opening a connection (the one way the apps reach a database)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

import masking
from apps.audit.services import audit_record
from apps.connections import hostpolicy, passwordref
from apps.connections.clean import (
    FIELDS,
    ConnectionInputError,
    ConnectionInUse,
    _audit_refusal,
    connection_clean,
    sqlite_allowed_dirs,
)
from apps.connections.destination import RETYPE_PASSWORD, destination_changed
from apps.connections.models import Connection, Dialect, RoleHint
from apps.connections.schemacache import _invalidate_schema_cache
from masking import ConnectionFailed
from masking.dialects import ConnectionParams
from masking.dialects import Dialect as Database


def connection_params(
    conn: Connection, *, password: str | None = None, timeout: int | None = None
) -> ConnectionParams:
    options = dict(conn.options or {})
    return ConnectionParams(
        dialect=conn.dialect,
        host=conn.host,
        port=conn.port,
        database=conn.database,
        username=conn.username,
        password=_password(conn) if password is None else passwordref.resolve(password),
        options=options,
        timeout=timeout or int(options.get("timeout", 10)),
        allowed_dirs=_allowed_dirs(conn.dialect),
    )


def _password(conn: Connection) -> str:
    """The stored password, or the value its reference names (read here, never stored)."""
    try:
        return passwordref.resolve(conn.get_password())
    except passwordref.PasswordRefError as exc:
        raise ConnectionFailed("login_failed", str(exc)) from None


def _allowed_dirs(dialect: str) -> tuple[str, ...]:
    return tuple(map(str, sqlite_allowed_dirs())) if dialect == Dialect.SQLITE else ()


def stored_password_for(*, instance: Connection | None, cleaned: dict) -> str:
    """The password to use for `cleaned`: the one typed, else the stored one while the
    destination is unchanged; a new destination with nothing typed is an input error."""
    if cleaned.get("password"):
        return cleaned["password"]
    if instance is None or not instance.has_password:
        return ""
    if destination_changed(instance=instance, cleaned=cleaned):
        raise ConnectionInputError({"password": RETYPE_PASSWORD})
    return instance.get_password()


def _changes(before: dict, after: dict) -> dict:
    return {
        k: {"from": before.get(k), "to": after.get(k)}
        for k in FIELDS
        if before.get(k) != after.get(k)
    }


def connection_create(*, data: dict, by, request=None) -> Connection:
    # Cleaned outside the transaction: a refusal by the host policy is audited, and stays so.
    cleaned = connection_clean(data, by=by, request=request)
    with transaction.atomic():
        return _create(cleaned, by=by, request=request)


def _create(cleaned: dict, *, by, request) -> Connection:
    password = cleaned.pop("password") or ""
    conn = Connection(**cleaned, created_by=by)
    conn.set_password(password)
    try:
        conn.save()
    except IntegrityError:
        raise ConnectionInputError(
            {"name": "A connection with this name already exists."}
        ) from None
    audit_record(
        action="connection.create",
        request=request,
        actor=by,
        resource_type="connection",
        resource_id=conn.pk,
        details={"name": conn.name, "dialect": conn.dialect},
    )
    return conn


def connection_update(*, conn: Connection, data: dict, by, request=None) -> Connection:
    before = {f: getattr(conn, f) for f in FIELDS}
    cleaned = connection_clean(data, instance=conn, by=by, request=request)  # see create
    with transaction.atomic():
        return _update(conn, before, cleaned, by=by, request=request)


def _update(conn: Connection, before: dict, cleaned: dict, *, by, request) -> Connection:
    stored_password_for(instance=conn, cleaned=cleaned)  # refuses a new destination untyped
    password = cleaned.pop("password")
    for field, value in cleaned.items():
        setattr(conn, field, value)
    password_changed = bool(password)
    if password_changed:
        conn.set_password(password)
    conn.save()
    changes = _changes(before, cleaned)
    if password_changed:
        changes["credentials"] = "changed"
    _invalidate_schema_cache(conn)
    audit_record(
        action="connection.update",
        request=request,
        actor=by,
        resource_type="connection",
        resource_id=conn.pk,
        details={"name": conn.name, "changes": changes},
    )
    return conn


@transaction.atomic
def connection_delete(*, conn: Connection, by, request=None) -> None:
    users = connection_workflow_names(conn)
    if users:
        raise ConnectionInUse(
            f"Connection '{conn.name}' is used by workflow(s): {', '.join(users)}. "
            "Delete or change those workflows first."
        )
    pk, name = conn.pk, conn.name
    conn.delete()
    audit_record(
        action="connection.delete",
        request=request,
        actor=by,
        resource_type="connection",
        resource_id=pk,
        details={"name": name},
    )


def connection_workflow_names(conn: Connection) -> list[str]:
    """Names of the workflows reading from or writing to `conn` (through the reverse relations,
    so this app needs no import of the workflows app)."""
    names = set(conn.source_workflows.values_list("name", flat=True))
    names.update(conn.target_workflows.values_list("name", flat=True))
    return sorted(names)


def web_timeout(timeout: int) -> int:
    """A connection opened while a web request waits holds a server thread: at most
    CONNECTION_WEB_TIMEOUT seconds (15), whatever the connection's own timeout (up to 300 s,
    which workers use)."""
    return max(1, min(int(timeout), int(getattr(settings, "CONNECTION_WEB_TIMEOUT", 15))))


def dialect_open(params: ConnectionParams) -> Database:
    """The one place the apps open a database: the engine's front door. The host policy is
    applied here, at every connect, and the connection goes to the address it checked."""
    try:
        params = hostpolicy.pinned_params(params)
    except hostpolicy.HostRefused as exc:
        _audit_refusal(str(exc), params.dialect, at="connect")
        raise ConnectionFailed("permission_denied", str(exc)) from None
    return masking.connect(params)


def connection_open(conn: Connection, *, web: bool = False) -> Database:
    """A connection to `conn`'s database (use it with `with`). `web`: a request is waiting, so
    the timeout is capped (web_timeout)."""
    params = connection_params(conn)
    if web:
        params = replace(params, timeout=web_timeout(params.timeout))
    return dialect_open(params)


def connection_ensure_demo(*, source: Path, target: Path) -> list[str]:
    """Register the demo SQLite databases as connections owned by the demo admin."""
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.filter(role="admin").order_by("pk").first()
    if owner is None:
        return ["no admin user; demo connections not registered"]
    lines = []
    for name, path, hint in (
        ("Demo source (SQLite)", source, RoleHint.SOURCE),
        ("Demo target (SQLite)", target, RoleHint.TARGET),
    ):
        conn, created = Connection.objects.get_or_create(
            name=name,
            defaults={
                "dialect": Dialect.SQLITE,
                "database": str(path.resolve()),
                "role_hint": hint,
                "created_by": owner,
            },
        )
        if not created and conn.database != str(path.resolve()):
            conn.database = str(path.resolve())
            conn.save(update_fields=["database", "updated_at"])
        lines.append(f"connection '{name}' {'registered' if created else 'already registered'}")
    return lines
