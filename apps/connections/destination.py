"""Where a stored password may be sent: only to the destination it was saved for.

Changing the server, port, database (a SQLite file's path too), dialect or ODBC driver without
typing the password again would hand the stored password to a server of the editor's choosing,
so such a change needs the password again, as DBeaver and SSMS ask for it."""

from __future__ import annotations

from typing import Any

DESTINATION_FIELDS = ("dialect", "host", "port", "database")
DESTINATION_OPTIONS = ("driver",)
RETYPE_PASSWORD = (
    "Type the password again: the server, port, database or driver changed, and the stored "
    "password is only ever sent where it was saved for."
)


def _destination(values: dict[str, Any]) -> tuple:
    options = values.get("options") or {}
    return tuple(values.get(f) for f in DESTINATION_FIELDS) + tuple(
        options.get(o) for o in DESTINATION_OPTIONS
    )


def destination_changed(*, instance: Any, cleaned: dict[str, Any]) -> bool:
    before = {f: getattr(instance, f) for f in DESTINATION_FIELDS}
    before["options"] = instance.options or {}
    return _destination(before) != _destination(cleaned)
