"""Checking connection input: every field, the options of each dialect, the SQLite folder
allow-list and the host policy. Returns cleaned values or raises ConnectionInputError."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.conf import settings

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.connections import hostpolicy, passwordref
from apps.connections.models import DEFAULT_PORTS, Connection, Dialect, RoleHint
from masking.dialects import sqlserver_options

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
        # only options of the right type for this dialect (anything else has its error already)
        sslmode = options.get("sslmode")
        if "options.sslmode" not in errors and sslmode and sslmode not in SSLMODES:
            errors["options.sslmode"] = f"Choose one of: {', '.join(sorted(SSLMODES))}."
        ssl_mode = options.get("ssl_mode")
        if (
            "options.ssl_mode" not in errors
            and ssl_mode
            and str(ssl_mode).upper() not in MYSQL_SSL_MODES
        ):
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


def _audit_refusal(reason: str, dialect: str, *, at: str = "save", by=None, request=None) -> None:
    audit_record(
        action="connection.refused",
        request=request,
        actor=by,
        resource_type="connection",
        status=AuditEvent.Status.FAILURE,
        details={"dialect": dialect, "at": at, "reason": reason},
    )
