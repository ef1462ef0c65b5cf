"""The Chinook masking scenario on MariaDB → MariaDB, from the dataset's own MySQL script
(SQLite: tests/masking/test_pipeline_chinook.py, PostgreSQL: tests/live/test_etl_chinook.py,
SQL Server: tests/live/test_sqlserver_chinook.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from masking import run
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams
from tests import services
from tests.masking.test_pipeline import fetch
from tests.masking.test_pipeline_chinook import (
    CHINOOK,
    assert_chinook,
    assert_chinook_copy,
    chinook_plan,
)

pytestmark = pytest.mark.live

NAMES = {"employee": "Employee", "customer": "Customer", "invoice": "Invoice"}


def load_chinook(params: ConnectionParams, *, empty: bool) -> None:
    import MySQLdb
    from MySQLdb.constants import CLIENT

    script = (CHINOOK / "Chinook_MySql.sql").read_text(encoding="utf-8-sig")
    # The script drops, creates and switches to its own database; the fixture made one.
    script = script.split("USE `Chinook`;", 1)[1]
    conn = MySQLdb.connect(
        host=services.MARIADB_HOST,
        port=services.MARIADB_PORT,
        user=services.MARIADB_USER,
        password=services.MARIADB_PASSWORD,
        database=params.database,
        charset="utf8mb4",
        client_flag=CLIENT.MULTI_STATEMENTS,
    )
    try:
        cur = conn.cursor()
        cur.execute(script)
        while cur.nextset():
            pass
        if empty:  # MariaDB checks a self-reference row by row: the managers go first
            cur.execute("UPDATE `Employee` SET `ReportsTo` = NULL")
            for table in ("InvoiceLine", "Invoice", "Customer", "Employee"):
                cur.execute(f"DELETE FROM `{table}`")
        conn.commit()
    finally:
        conn.close()


def test_chinook_mariadb(mariadb_db_factory: Callable[[], ConnectionParams]) -> None:
    src_params, tgt_params = mariadb_db_factory(), mariadb_db_factory()
    load_chinook(src_params, empty=False)
    load_chinook(tgt_params, empty=True)
    src, tgt = get_dialect(src_params), get_dialect(tgt_params)
    try:
        result = run(chinook_plan(src, tgt, NAMES), src, tgt)
        assert_chinook(src, tgt, result, NAMES, {"employee": 8, "customer": 59, "invoice": 412})
        assert_chinook_copy(src, tgt, fetch)
    finally:
        src.close()
        tgt.close()
