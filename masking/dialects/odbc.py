"""Finding an ODBC driver for SQL Server.

A driver installed system-wide ("ODBC Driver 18/17 for SQL Server") wins. Otherwise the driver
bundled in the `mssql-python-odbc` wheel is used: pyodbc can load it by path
(`DRIVER={/path/libmsodbcsql-18.so}`), while tools that only accept a driver *name* (mssql-django)
need it registered in an odbcinst.ini that unixODBC finds through ODBCSYSINI."""

from __future__ import annotations

import glob
import importlib.util
import os
import site
import sys
from pathlib import Path

PREFERRED_DRIVERS = ("ODBC Driver 18 for SQL Server", "ODBC Driver 17 for SQL Server")
BUNDLED_NAME = "ODBC Driver 18 for SQL Server"
_BUNDLED_RELATIVE = "libs/linux/debian_ubuntu/x86_64/lib/libmsodbcsql-18.*.so*"


def installed_drivers() -> list[str]:
    try:
        import pyodbc
    except ImportError:
        return []
    try:
        return list(pyodbc.drivers())
    except Exception:  # noqa: BLE001 - a broken unixODBC setup means "none installed"
        return []


def _package_dirs() -> list[Path]:
    dirs: list[Path] = []
    spec = importlib.util.find_spec("mssql_python_odbc")
    if spec is not None and spec.submodule_search_locations:
        dirs.extend(Path(p) for p in spec.submodule_search_locations)
    roots = [*sys.path]
    try:
        roots.extend(site.getsitepackages())
    except AttributeError:  # virtualenvs built without site.getsitepackages
        pass
    dirs.extend(Path(r) / "mssql_python_odbc" for r in roots if r)
    return dirs


def bundled_driver_path() -> str | None:
    """The libmsodbcsql shared object shipped in the mssql-python-odbc wheel, if present."""
    for directory in _package_dirs():
        matches = sorted(glob.glob(str(directory / _BUNDLED_RELATIVE)))
        if matches:
            return matches[-1]
    return None


def find_driver() -> str | None:
    """A value for DRIVER=: an installed driver's name, else the bundled driver's path."""
    installed = installed_drivers()
    for name in PREFERRED_DRIVERS:
        if name in installed:
            return name
    return bundled_driver_path()


def registered_in_ini() -> set[str]:
    """Driver names in the odbcinst.ini unixODBC will read, found WITHOUT allocating an ODBC
    environment (after that, unixODBC no longer looks at ODBCSYSINI in this process)."""
    folder = os.environ.get("ODBCSYSINI") or "/etc"
    names: set[str] = set()
    for ini in (Path(folder) / "odbcinst.ini", Path.home() / ".odbcinst.ini"):
        try:
            text = ini.read_text(errors="replace")
        except OSError:
            continue
        names.update(
            line.strip()[1:-1]
            for line in text.splitlines()
            if line.strip().startswith("[") and line.strip().endswith("]")
        )
    return names


def register_bundled_driver(directory: str | os.PathLike[str]) -> Path | None:
    """Register the bundled driver under its usual name in `directory`/odbcinst.ini and point
    ODBCSYSINI there. Returns the ini file written, or None when a SQL Server driver is already
    registered or no bundled driver exists. Call it before the first ODBC connection:
    unixODBC reads the ini when its environment is first allocated."""
    if registered_in_ini() & set(PREFERRED_DRIVERS):
        return None
    path = bundled_driver_path()
    if path is None:
        return None
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    ini = target / "odbcinst.ini"
    ini.write_text(
        f"[{BUNDLED_NAME}]\nDescription=Microsoft ODBC Driver 18 for SQL Server\n"
        f"Driver={path}\nUsageCount=1\n"
    )
    os.environ["ODBCSYSINI"] = str(target)
    return ini


def connection_string(parts: dict[str, object]) -> str:
    """Build `key=value;...`, bracing values that contain separators or braces so a password
    such as `a;b}c` cannot inject extra keywords."""
    out = []
    for key, value in parts.items():
        if value is None or value == "":
            continue
        text = str(value)
        # DRIVER is braced always: names and paths contain spaces and dots.
        if key.upper() == "DRIVER" or any(ch in text for ch in ";{}=") or text != text.strip():
            text = "{" + text.replace("}", "}}") + "}"
        out.append(f"{key}={text}")
    return ";".join(out) + ";"
