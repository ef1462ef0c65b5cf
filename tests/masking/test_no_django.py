"""The masking engine must never import Django (it runs in workers and CLIs without it)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import importlib, pkgutil, sys
import masking
names = ["masking"]
for mod in pkgutil.walk_packages(masking.__path__, "masking."):
    importlib.import_module(mod.name)
    names.append(mod.name)
from masking.techniques import all_techniques
all_techniques()
assert "masking.techniques.tokenize" in names and "masking.detect" in names, names
print(len(names), "django" in sys.modules, any(m.startswith("django") for m in sys.modules))
"""


def test_masking_never_imports_django() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, check=True
    ).stdout.split()
    assert int(out[0]) >= 10
    assert out[1:] == ["False", "False"]
