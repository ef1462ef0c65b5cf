"""Every environment variable the code reads is in the README's configuration table."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READERS = {"env", "env_bool", "env_int", "env_list", "getenv", "get"}


def _names_read(path: Path) -> set[str]:
    """Upper-case string literals given to env(...)/os.environ.get(...)/os.getenv(...) or used
    as os.environ[...]."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        args = []
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            is_environ_get = (
                name == "get"
                and isinstance(func, ast.Attribute)
                and getattr(func.value, "attr", "") == "environ"
            )
            if name in READERS - {"get"} or is_environ_get:
                args = node.args[:1]
        elif isinstance(node, ast.Subscript) and getattr(node.value, "attr", "") == "environ":
            args = [node.slice]
        for arg in args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                if re.fullmatch(r"[A-Z][A-Z0-9_]+", arg.value):
                    out.add(arg.value)
    return out


def test_every_environment_variable_is_documented():
    read = set()
    for folder in ("config", "apps", "masking"):
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" not in path.parts:
                read |= _names_read(path)
    # set by the test and CI tooling or by Django itself, not settings an operator chooses
    read -= {"DJANGO_SETTINGS_MODULE"}
    assert {"DEBUG", "TIME_ZONE", "UNMASK_RATE", "DATABASE_CONN_MAX_AGE"} <= read  # the scan works
    table = "\n".join(
        line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `")
    )
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    assert sorted(read - documented) == []
