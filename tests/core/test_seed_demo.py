import sqlite3

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    call_command("seed_demo", "--rows", "200")
    return tmp_path / "demo"


def test_seed_demo_creates_tables_keys_constraints_and_counts(demo):
    db = sqlite3.connect(demo / "source.sqlite3")
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"customers", "addresses", "employees", "orders", "payments"} <= tables
    counts = {
        t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("customers", "addresses", "employees", "orders", "payments")
    }
    assert counts == {
        "customers": 200,
        "addresses": 200,
        "employees": 5,
        "orders": 400,
        "payments": 400,
    }
    fks = {
        (t, r[2], r[3])
        for t in ("addresses", "orders", "payments", "employees")
        for r in db.execute(f"PRAGMA foreign_key_list({t})")
    }
    assert ("addresses", "customers", "customer_id") in fks
    assert ("orders", "customers", "customer_id") in fks
    assert ("orders", "employees", "employee_id") in fks
    assert ("payments", "orders", "order_id") in fks
    assert ("employees", "employees", "manager_id") in fks
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    cols = {r[1]: r for r in db.execute("PRAGMA table_info(customers)")}
    assert cols["id"][5] == 1  # primary key
    assert cols["email"][3] == 1 and cols["first_name"][3] == 1  # NOT NULL
    assert cols["email"][2] == "VARCHAR(120)" and cols["credit_limit"][2] == "DECIMAL(10, 2)"
    assert {cols["date_of_birth"][2], cols["created_at"][2], cols["is_active"][2]} == {
        "DATE",
        "DATETIME",
        "BOOLEAN",
    }
    unique_indexes = [r for r in db.execute("PRAGMA index_list(customers)") if r[2] == 1]
    assert unique_indexes, "customers.email must be unique"
    emails = db.execute("SELECT count(DISTINCT email), count(*) FROM customers").fetchone()
    assert emails[0] == emails[1]
    notes = [r[0] for r in db.execute("SELECT notes FROM customers WHERE notes IS NOT NULL")]
    assert any("@" in n for n in notes) and any("(" in n and "-" in n for n in notes)
    target = sqlite3.connect(demo / "target.sqlite3")
    assert (
        target.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0] == 0
    )


def test_seed_demo_creates_admin_and_user_once(demo, capsys):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    assert User.objects.get(username="admin").role == "admin"
    assert User.objects.get(username="analyst").role == "user"
    call_command("seed_demo", "--rows", "10")
    assert "exists (password unchanged)" in capsys.readouterr().out
    assert User.objects.filter(username__in=["admin", "analyst"]).count() == 2


def test_seed_demo_takes_passwords_from_environment(settings, tmp_path, monkeypatch):
    settings.DATA_DIR = tmp_path
    monkeypatch.setenv("MASKFLOW_ADMIN_PASSWORD", "env-admin-passphrase-1")
    call_command("seed_demo", "--rows", "5")
    from django.contrib.auth import get_user_model

    assert get_user_model().objects.get(username="admin").check_password("env-admin-passphrase-1")


def test_seed_demo_rejects_bad_rows(settings, tmp_path):
    from django.core.management.base import CommandError

    settings.DATA_DIR = tmp_path
    with pytest.raises(CommandError):
        call_command("seed_demo", "--rows", "0")
