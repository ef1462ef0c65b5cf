"""The Chinook masking scenario on SQL Server → SQL Server, from the dataset's own T-SQL script
(the SQLite one lives in tests/masking/test_pipeline_chinook.py, PostgreSQL's in
tests/live/test_etl_chinook.py)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from masking import run
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams, Dialect
from tests.masking.test_pipeline import fetch
from tests.masking.test_pipeline_chinook import (
    CHINOOK,
    assert_chinook,
    assert_chinook_copy,
    chinook_plan,
)

pytestmark = [pytest.mark.live, pytest.mark.sqlserver]

NAMES = {"employee": "Employee", "customer": "Customer", "invoice": "Invoice"}


def load_chinook(d: Dialect, *, empty: bool) -> None:
    script = (CHINOOK / "Chinook_SqlServer.sql").read_text(encoding="utf-8-sig")
    # The script drops, creates and switches to its own database; the fixture made one.
    script = script.split("USE [Chinook];", 1)[1]
    for batch in re.split(r"^GO\s*$", script, flags=re.MULTILINE):
        if batch.strip():
            d.execute(batch)
    if empty:
        for table in ("InvoiceLine", "Invoice", "Customer", "Employee"):
            d.execute(f"DELETE FROM [dbo].[{table}]")


def test_chinook_sqlserver(sqlserver_db_factory: Callable[[], ConnectionParams]) -> None:
    src, tgt = get_dialect(sqlserver_db_factory()), get_dialect(sqlserver_db_factory())
    try:
        load_chinook(src, empty=False)
        load_chinook(tgt, empty=True)
        result = run(chinook_plan(src, tgt, NAMES), src, tgt)
        assert_chinook(src, tgt, result, NAMES, {"employee": 8, "customer": 59, "invoice": 412})
        assert_chinook_copy(src, tgt, fetch)
    finally:
        src.close()
        tgt.close()
