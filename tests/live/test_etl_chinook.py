"""The Chinook masking scenario on PostgreSQL → PostgreSQL (the SQLite one lives in
tests/masking/test_pipeline_chinook.py)."""

from __future__ import annotations

import psycopg
import pytest

from masking import run
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams
from tests import services
from tests.live.test_etl import pg_db2  # noqa: F401 - fixture
from tests.masking.test_pipeline_chinook import CHINOOK, assert_chinook, chinook_plan

pytestmark = pytest.mark.live

PG_NAMES = {"employee": "employee", "customer": "customer", "invoice": "invoice"}


def load_chinook(params: ConnectionParams, *, empty: bool) -> None:
    script = (CHINOOK / "Chinook_PostgreSql.sql").read_text(encoding="utf-8-sig")
    # The script creates and switches to its own database; the fixture already made one.
    script = script.split("\\c chinook;", 1)[1]
    with psycopg.connect(services.postgres_dsn(params.database), autocommit=True) as conn:
        conn.execute(script.encode())
        if empty:
            conn.execute("TRUNCATE invoice_line, invoice, customer, employee")


def test_chinook_postgresql(pg_db, pg_db2) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    load_chinook(pg_db, empty=False)
    load_chinook(pg_db2, empty=True)
    src, tgt = get_dialect(pg_db), get_dialect(pg_db2)
    try:
        result = run(chinook_plan(src, tgt, PG_NAMES), src, tgt)
        assert_chinook(src, tgt, result, PG_NAMES, {"employee": 8, "customer": 59, "invoice": 412})
        with tgt.connect().cursor() as cur:
            cur.execute(
                "SELECT COUNT(*) FROM invoice i JOIN customer c USING (customer_id) "
                "JOIN employee e ON e.employee_id = c.support_rep_id"
            )
            assert cur.fetchone()[0] == 412
    finally:
        src.close()
        tgt.close()
