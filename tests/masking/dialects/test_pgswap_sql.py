"""The swap's statements name only what the server has: PostgreSQL 14 added column
compression, 15 schema publications and ON DELETE SET NULL (columns)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from masking.dialects.pgswap import _eligible_sql, _signature_sql, copy_sql


def _dialect(version: int):  # type: ignore[no-untyped-def]
    info = SimpleNamespace(server_version=version)
    return SimpleNamespace(connect=lambda: SimpleNamespace(info=info))


@pytest.mark.parametrize(("version", "recent"), [(140011, False), (150006, True), (170000, True)])
def test_the_eligibility_query_fits_the_server(version: int, recent: bool) -> None:
    sql = _eligible_sql(_dialect(version))
    assert ("pg_publication_namespace" in sql) is recent
    assert ("confdelsetcols" in sql) is recent
    assert "{" not in sql and "pg_publication_rel" in sql


@pytest.mark.parametrize(("version", "recent"), [(130015, False), (140011, True)])
def test_copies_and_signatures_name_compression_from_14(version: int, recent: bool) -> None:
    d = _dialect(version)
    assert ("INCLUDING COMPRESSION" in copy_sql(d, '"s"."n"', '"s"."t"')) is recent
    assert copy_sql(d, '"s"."n"', '"s"."t"').startswith('CREATE TABLE "s"."n" (LIKE "s"."t"')
    signature = _signature_sql(d)
    assert ("attcompression" in signature) is recent
    assert "{" not in signature and "attstorage" in signature
