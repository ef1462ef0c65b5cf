"""A 10% subset of Chinook's customers, SQLite → SQLite: every invoice of a kept customer, its
lines, and every row those reference (tracks, albums, artists, genres, media types, support
representatives and their managers) arrive, nothing else does, and no foreign key dangles.
tests/live/test_subset_live.py runs the same on PostgreSQL."""

from __future__ import annotations

import sqlite3

import pytest

from masking import Plan, TablePlan, run
from masking.dialects import get_dialect
from masking.dialects.base import ConnectionParams, Dialect
from masking.subset import Subset, SubsetRoot
from tests.masking.subset_oracle import actual, expected, orphans
from tests.masking.test_pipeline_chinook import SQLITE_SCRIPT

SECRET = b"chinook-subset-0123456789abcdef!"
SQLITE_TABLES = [
    "Artist", "Album", "Genre", "MediaType", "Track", "Playlist", "PlaylistTrack",
    "Employee", "Customer", "Invoice", "InvoiceLine",
]  # fmt: skip


def chinook_subset_plan(schema: str, tables: list[str], customer: str) -> Plan:
    return Plan(
        tables=tuple(TablePlan(schema, t, schema, t, (), None, True) for t in tables),
        secret=SECRET,
        batch_size=50,
        subset=Subset(roots=(SubsetRoot(schema, customer, percent=10),)),
    )


def check_chinook_subset(
    src: Dialect, tgt: Dialect, schema: str, tables: list[str], customer: str
) -> dict[str, set[tuple]]:
    plan = chinook_subset_plan(schema, tables, customer)
    result = run(plan, src, tgt)
    assert result.fk_ok
    want = expected(src, schema, tables, plan.subset, SECRET)
    got = actual(tgt, schema, tables)
    assert got == want
    kept = {c.table.split(".")[-1].lower(): c.kept for c in result.subset}
    assert kept == {t: len(v) for t, v in want.items()}
    # 10% of 59 customers, each with its invoices; no playlist is reached downwards.
    assert 3 <= len(got[customer.lower()]) <= 9
    assert got[customer.lower()] != set() and all(got[t.lower()] for t in tables[:5])
    assert got["playlist"] == set() and got[tables[6].lower()] == set()
    assert not any(orphans(tgt, schema, tables).values())
    again = run(plan, src, tgt)
    assert actual(tgt, schema, tables) == got and again.subset == result.subset
    return got


@pytest.fixture
def chinook_pair(tmp_path):  # type: ignore[no-untyped-def]
    script = SQLITE_SCRIPT.read_text(encoding="utf-8-sig")
    paths = {}
    for role in ("src", "tgt"):
        path = tmp_path / f"{role}.db"
        conn = sqlite3.connect(path)
        conn.executescript(script)
        if role == "tgt":
            for table in reversed(SQLITE_TABLES):
                conn.execute(f'DELETE FROM "{table}"')
            conn.commit()
        conn.close()
        paths[role] = path
    src = get_dialect(
        ConnectionParams("sqlite", database=str(paths["src"]), options={"read_only": True})
    )
    tgt = get_dialect(ConnectionParams("sqlite", database=str(paths["tgt"])))
    yield src, tgt
    src.close()
    tgt.close()


def test_chinook_customers_ten_percent_sqlite(chinook_pair) -> None:  # type: ignore[no-untyped-def]
    src, tgt = chinook_pair
    got = check_chinook_subset(src, tgt, "", SQLITE_TABLES, "Customer")
    assert len(got["invoice"]) > len(got["customer"])
