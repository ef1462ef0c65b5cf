"""A connection's password may be a reference instead of a stored value: `env:NAME` (an
environment variable of the process that connects) or `file:/path` (a mounted secret file).
The reference is stored (encrypted, like any password); the value it names is read at connect
time, in the process that connects — a worker for runs — and is never stored, shown, audited or
logged.

Which sources a reference may name is the admin's choice, or anyone who may register a
connection could send, say, SECRET_KEY as a password to a server of their own:
CONNECTION_PASSWORD_ENV lists variable names (or `PREFIX*`), CONNECTION_PASSWORD_FILE_DIRS the
folders secret files may be in (symlinks are followed before the check). Both empty: off."""

from __future__ import annotations

import os
import re
from pathlib import Path

from django.conf import settings

_REF = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]{0,127}|file:/\S{1,1000})$")
MAX_BYTES = 4096


class PasswordRefError(Exception):
    """A reference that may not be used, or that names nothing readable here (no value)."""


def is_reference(password: str) -> bool:
    return bool(password) and bool(_REF.match(password))


def _env_allowed(name: str) -> bool:
    for entry in getattr(settings, "CONNECTION_PASSWORD_ENV", []) or []:
        entry = entry.strip()
        if entry.endswith("*") and name.startswith(entry[:-1]) and len(entry) > 1:
            return True
        if entry == name:
            return True
    return False


def _file_allowed(path: Path) -> bool:
    dirs = [Path(d).resolve() for d in getattr(settings, "CONNECTION_PASSWORD_FILE_DIRS", []) or []]
    return any(d in path.parents for d in dirs)


def check(reference: str) -> None:
    """At save: the reference names a source the admin allows (it need not exist here)."""
    kind, _, what = reference.partition(":")
    if kind == "env" and not _env_allowed(what):
        raise PasswordRefError(f"env:{what} is not an allowed password source")
    if kind == "file" and not _file_allowed(Path(what).resolve()):
        raise PasswordRefError("that file is not in an allowed folder for password files")


def resolve(password: str) -> str:
    """The password itself: `password` unchanged unless it is a reference."""
    if not is_reference(password):
        return password
    check(password)
    kind, _, what = password.partition(":")
    if kind == "env":
        value = os.environ.get(what)
        if not value:
            raise PasswordRefError(f"env:{what} is not set in this process")
        return value
    try:
        with open(Path(what).resolve(), "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError:
        raise PasswordRefError("the password file cannot be read here") from None
    value = raw[:MAX_BYTES].decode("utf-8", errors="strict").rstrip("\r\n")
    if not value or len(raw) > MAX_BYTES:
        raise PasswordRefError("the password file is empty or too large")
    return value
