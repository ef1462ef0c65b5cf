"""ODBC driver discovery and registration (real files, the bundled driver of this venv)."""

from __future__ import annotations

import os
from pathlib import Path

from masking.dialects import odbc


def test_bundled_driver_is_found():
    path = odbc.bundled_driver_path()
    assert path is not None
    assert Path(path).is_file()
    assert "libmsodbcsql-18" in Path(path).name


def test_find_driver_prefers_installed_name(monkeypatch):
    monkeypatch.setattr(
        odbc, "installed_drivers", lambda: ["FreeTDS", "ODBC Driver 17 for SQL Server"]
    )
    assert odbc.find_driver() == "ODBC Driver 17 for SQL Server"
    monkeypatch.setattr(odbc, "installed_drivers", lambda: ["FreeTDS"])
    assert odbc.find_driver() == odbc.bundled_driver_path()


def test_register_bundled_driver_writes_ini_and_sets_env(tmp_path, monkeypatch):
    monkeypatch.delenv("ODBCSYSINI", raising=False)
    monkeypatch.setattr(odbc, "registered_in_ini", lambda: set())
    ini = odbc.register_bundled_driver(tmp_path / "odbc")
    assert ini == tmp_path / "odbc" / "odbcinst.ini"
    text = ini.read_text()
    assert text.startswith("[ODBC Driver 18 for SQL Server]\n")
    assert f"Driver={odbc.bundled_driver_path()}\n" in text
    assert os.environ["ODBCSYSINI"] == str(tmp_path / "odbc")


def test_register_is_a_no_op_when_already_registered(tmp_path, monkeypatch):
    monkeypatch.delenv("ODBCSYSINI", raising=False)
    monkeypatch.setattr(odbc, "registered_in_ini", lambda: {"ODBC Driver 18 for SQL Server"})
    assert odbc.register_bundled_driver(tmp_path) is None
    assert not (tmp_path / "odbcinst.ini").exists()
    assert "ODBCSYSINI" not in os.environ


def test_connection_string_escaping():
    assert odbc.connection_string(
        {"DRIVER": "/x/lib.so", "PWD": "a}b;c", "UID": " u", "DATABASE": "", "X": None, "Y": 5}
    ) == ("DRIVER={/x/lib.so};PWD={a}}b;c};UID={ u};Y=5;")


def test_registered_in_ini_reads_the_ini_unixodbc_will_read(tmp_path, monkeypatch):
    (tmp_path / "odbcinst.ini").write_text(
        "[ODBC Driver 17 for SQL Server]\nDriver=/x.so\n[FreeTDS]\n"
    )
    monkeypatch.setenv("ODBCSYSINI", str(tmp_path))
    assert {"ODBC Driver 17 for SQL Server", "FreeTDS"} <= odbc.registered_in_ini()


def test_bundled_driver_is_registered_by_name_for_mssql_django(tmp_path):
    """What mssql-django needs: after the product starts, the driver is known by its name."""
    import subprocess
    import sys

    code = (
        "import os, django; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; django.setup();"
        "import pyodbc; print('ODBC Driver 18 for SQL Server' in pyodbc.drivers())"
    )
    env = {k: v for k, v in os.environ.items() if k != "ODBCSYSINI"}
    env["MASKFLOW_DATA_DIR"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=str(__import__("pathlib").Path(__file__).resolve().parents[3]),
    )
    assert out.stdout.strip().endswith("True"), out.stderr[-2000:]
    assert (tmp_path / "odbc" / "odbcinst.ini").exists()
