"""Connection writes and the operations that open a connection (test, introspection)."""

from __future__ import annotations

import re
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

import masking
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.connections import hostpolicy, passwordref
from apps.connections.destination import RETYPE_PASSWORD, destination_changed
from apps.connections.models import DEFAULT_PORTS, Connection, Dialect, RoleHint
from apps.core.logging import redact_text
from apps.core.ratelimit import rate_check
from masking import ConnectionFailed, TableInfo
from masking.dialects import ConnectionParams, TestResult, sqlserver_options
from masking.dialects import Dialect as Database

OPTION_KEYS: dict[str, dict[str, type]] = {
    # `object`: checked by masking.dialects.sqlserver_options.problems, not by type alone.
    "sqlserver": {
        "driver": str,
        "encrypt": object,
        "trust_server_certificate": bool,
        "host_name_in_certificate": str,
        "timeout": int,
        "query_timeout": object,
        "application_intent": object,
        "packet_size": object,
    },
    "postgresql": {
        "sslmode": str,
        "sslrootcert": str,
        "sslcert": str,
        "sslkey": str,
        "timeout": int,
    },
    "mysql": {"ssl_mode": str, "timeout": int},
    "sqlite": {"timeout": int, "read_only": bool},
}
MYSQL_SSL_MODES = {"DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"}
SSLMODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
FIELDS = ("name", "dialect", "host", "port", "database", "username", "options", "role_hint")
_HOST_RE = re.compile(r"^[A-Za-z0-9._\-:\[\]\\]+$")
_IDENT_FORBIDDEN = re.compile(r"['\";]|--|/\*|\*/|\x00")


class ConnectionInputError(Exception):
    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


class ConnectionInUse(Exception):
    pass


def sqlite_allowed_dirs() -> list[Path]:
    configured = getattr(settings, "SQLITE_ALLOWED_DIRS", None) or [settings.DATA_DIR]
    return [Path(p).resolve() for p in configured]


def clean_identifier(value: str, what: str) -> str:
    """Schema/table names from URLs: quoting makes any name safe, but these never name a real
    object and only ever arrive from probing, so they are refused outright."""
    if not value or len(value) > 128 or _IDENT_FORBIDDEN.search(value):
        raise ConnectionInputError({what: f"invalid {what} name"})
    return value


def connection_clean(
    data: dict[str, Any],
    *,
    instance: Connection | None = None,
    check_name: bool = True,
    by=None,
    request=None,
) -> dict[str, Any]:
    """Validate create/update input; returns cleaned values or raises ConnectionInputError
    listing every problem. `password` is optional on update (blank keeps the stored one)."""
    errors: dict[str, str] = {}
    merged = {f: getattr(instance, f) for f in FIELDS} if instance else {}
    merged.update({k: v for k, v in data.items() if k in FIELDS or k == "password"})

    name = str(merged.get("name") or "").strip()
    if not check_name:
        pass
    elif not name:
        errors["name"] = "This field is required."
    elif len(name) > 100:
        errors["name"] = "Ensure this field has no more than 100 characters."
    elif (
        Connection.objects.filter(name__iexact=name)
        .exclude(pk=getattr(instance, "pk", None))
        .exists()
    ):
        errors["name"] = "A connection with this name already exists."

    dialect = merged.get("dialect")
    if dialect not in Dialect.values:
        errors["dialect"] = f"Unknown dialect; choose one of: {', '.join(Dialect.values)}."
        dialect = None

    host = str(merged.get("host") or "").strip()
    port = merged.get("port")
    database = str(merged.get("database") or "").strip()
    username = str(merged.get("username") or "").strip()
    if port in ("", None):
        port = None
    else:
        try:
            port = int(port)
            if isinstance(merged.get("port"), bool) or not 1 <= port <= 65535:
                raise ValueError
        except (TypeError, ValueError):
            errors["port"] = "Port must be a whole number between 1 and 65535."
            port = None

    # A NUL byte is no part of any name or path, and drivers and the OS refuse it with errors
    # of their own.
    texts = {"name": name, "host": host, "database": database, "username": username}
    errors.update({f: "Must not contain a NUL character." for f, v in texts.items() if "\x00" in v})

    if dialect == Dialect.SQLITE:
        host, port, username = "", None, ""
        if "database" in errors:
            pass
        elif not database:
            errors["database"] = "Give the path of the SQLite database file."
        else:
            resolved = Path(database).expanduser().resolve()
            allowed = sqlite_allowed_dirs()
            if not any(resolved == d or d in resolved.parents for d in allowed):
                errors["database"] = "SQLite files must be inside an allowed folder: " + ", ".join(
                    map(str, allowed)
                )
            else:
                database = str(resolved)
    elif dialect:
        if not host:
            errors["host"] = "This field is required."
        elif len(host) > 255 or not _HOST_RE.match(host):
            errors["host"] = "Enter a host name, IP address or host\\instance."
        if not database:
            errors["database"] = "This field is required."
        elif len(database) > 128:
            errors["database"] = "Ensure this field has no more than 128 characters."
        if len(username) > 128:
            errors["username"] = "Ensure this field has no more than 128 characters."
        if port is None and "port" not in errors:
            port = DEFAULT_PORTS[dialect]
        if host and "host" not in errors and "port" not in errors:
            try:
                hostpolicy.check(host, port, must_resolve=False)
            except hostpolicy.HostRefused as exc:
                errors["host"] = f"Refused: {exc}."
                _audit_refusal(str(exc), dialect, by=by, request=request)

    options = merged.get("options") or {}
    if not isinstance(options, dict):
        errors["options"] = "Options must be an object."
        options = {}
    elif dialect:
        allowed_opts = OPTION_KEYS[dialect]
        for key, value in options.items():
            expected = allowed_opts.get(key)
            if expected is None:
                errors[f"options.{key}"] = (
                    f"Unknown option for {dialect}; allowed: {', '.join(sorted(allowed_opts))}."
                )
            elif expected is object and isinstance(value, (dict, list)):
                errors[f"options.{key}"] = "Must be a single value."
            elif expected is bool and not isinstance(value, bool):
                errors[f"options.{key}"] = "Must be true or false."
            elif expected is int and (
                isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 300
            ):
                errors[f"options.{key}"] = "Must be a whole number of seconds between 1 and 300."
            elif expected is str and (not isinstance(value, str) or len(value) > 255):
                errors[f"options.{key}"] = "Must be a short text."
        if dialect == Dialect.SQLSERVER:
            for key, problem in sqlserver_options.problems(options).items():
                errors.setdefault(key, problem)
            if options.get("application_intent") == "readonly" and (
                (merged.get("role_hint") or RoleHint.BOTH) != RoleHint.SOURCE
            ):
                errors["options.application_intent"] = (
                    "Read-only intent is for connections used only as a source."
                )
        if options.get("sslmode") and options["sslmode"] not in SSLMODES:
            errors["options.sslmode"] = f"Choose one of: {', '.join(sorted(SSLMODES))}."
        if options.get("ssl_mode") and str(options["ssl_mode"]).upper() not in MYSQL_SSL_MODES:
            errors["options.ssl_mode"] = f"Choose one of: {', '.join(sorted(MYSQL_SSL_MODES))}."

    role_hint = merged.get("role_hint") or RoleHint.BOTH
    if role_hint not in RoleHint.values:
        errors["role_hint"] = f"Choose one of: {', '.join(RoleHint.values)}."

    password = data.get("password")
    if password is not None and not isinstance(password, str):
        errors["password"] = "Must be text."
    elif password and "\x00" in password:
        errors["password"] = "Must not contain a NUL character."
    elif password and len(password) > 512:
        errors["password"] = "Ensure this field has no more than 512 characters."
    elif password and passwordref.is_reference(password):
        try:
            passwordref.check(password)
        except passwordref.PasswordRefError as exc:
            errors["password"] = f"{exc}."

    if errors:
        raise ConnectionInputError(errors)
    return {
        "name": name,
        "dialect": dialect,
        "host": host,
        "port": port,
        "database": database,
        "username": username,
        "options": options,
        "role_hint": role_hint,
        "password": password,
    }


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


def _audit_refusal(reason: str, dialect: str, *, at: str = "save", by=None, request=None) -> None:
    audit_record(
        action="connection.refused",
        request=request,
        actor=by,
        resource_type="connection",
        status=AuditEvent.Status.FAILURE,
        details={"dialect": dialect, "at": at, "reason": reason},
    )


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


# --- introspection (cached briefly; refreshable) --------------------------------------------------
SCHEMA_CACHE_SECONDS = 120


def _cache_key(conn: Connection, *parts: str) -> str:
    import hashlib

    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]
    return f"schema:{conn.pk}:{cache.get(f'schema-gen:{conn.pk}', 0)}:{digest}"


def _invalidate_schema_cache(conn: Connection) -> None:
    try:
        cache.incr(f"schema-gen:{conn.pk}")
    except ValueError:
        cache.set(f"schema-gen:{conn.pk}", 1, None)


def _introspect(conn: Connection, what: str, *args: str, refresh: bool = False):
    key = _cache_key(conn, what, *args)
    if not refresh:
        hit = cache.get(key)
        if hit is not None:
            return hit
    with connection_open(conn, web=True) as dialect:
        value = getattr(dialect, what)(*args)
    cache.set(key, value, SCHEMA_CACHE_SECONDS)
    return value


def connection_schemas(*, conn: Connection, refresh: bool = False) -> list[str]:
    return _introspect(conn, "list_schemas", refresh=refresh)


def connection_tables(*, conn: Connection, schema: str, refresh: bool = False):
    clean_identifier(schema, "schema")
    return _introspect(conn, "list_tables", schema, refresh=refresh)


def connection_table(
    *, conn: Connection, schema: str, table: str, refresh: bool = False
) -> TableInfo:
    clean_identifier(schema, "schema")
    clean_identifier(table, "table")
    return _introspect(conn, "describe_table", schema, table, refresh=refresh)


def table_as_dict(info: TableInfo) -> dict:
    data = asdict(info)
    for col in data["columns"]:
        col["category"] = str(col["category"])
    return data


def connection_audit_browse(
    *, conn: Connection, request, what: str, schema: str = "", table: str = ""
) -> None:
    audit_record(
        action="schema.browse",
        request=request,
        resource_type="connection",
        resource_id=conn.pk,
        details={"what": what, "schema": schema, "table": table},
    )


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
