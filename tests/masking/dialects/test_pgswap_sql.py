"""The swap's eligibility query names only catalogs the server has: PostgreSQL 15 added schema
publications and ON DELETE SET NULL (columns)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from masking.dialects.pgswap import _eligible_sql


def _dialect(version: int):  # type: ignore[no-untyped-def]
    info = SimpleNamespace(server_version=version)
    return SimpleNamespace(connect=lambda: SimpleNamespace(info=info))


@pytest.mark.parametrize(("version", "recent"), [(140011, False), (150006, True), (170000, True)])
def test_the_eligibility_query_fits_the_server(version: int, recent: bool) -> None:
    sql = _eligible_sql(_dialect(version))
    assert ("pg_publication_namespace" in sql) is recent
    assert ("confdelsetcols" in sql) is recent
    assert "{" not in sql and "pg_publication_rel" in sql
