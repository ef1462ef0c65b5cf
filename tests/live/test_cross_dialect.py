"""A table introspected in one dialect is re-created in another with create_table_sql and
re-introspects to compatible columns and keys; data then copies across."""

from __future__ import annotations

import pytest

from masking.dialects import get_dialect
from masking.schema import TypeCategory as C

pytestmark = pytest.mark.live

SOURCES = {
    "postgresql": [
        "CREATE TABLE public.people (id serial PRIMARY KEY, email varchar(120) NOT NULL UNIQUE,"
        " code char(3), name text, amount numeric(10, 2) NOT NULL, score double precision,"
        " n smallint, big bigint, born date, seen timestamptz, woke timestamp, wake time,"
        " ok boolean NOT NULL, ref uuid, pic bytea, doc jsonb, bits bit(8),"
        " vbits bit varying(5), UNIQUE (code, born))",
        "CREATE TABLE public.pairs (a integer, b varchar(10), v real, PRIMARY KEY (a, b))",
    ],
    "mysql": [
        "CREATE TABLE people (id INT AUTO_INCREMENT PRIMARY KEY,"
        " email VARCHAR(120) NOT NULL UNIQUE, code CHAR(3), name TEXT,"
        " amount DECIMAL(10, 2) NOT NULL, score DOUBLE, n SMALLINT, big BIGINT, born DATE,"
        " seen TIMESTAMP(6) NULL, woke DATETIME, wake TIME, ok TINYINT(1) NOT NULL,"
        " ref UUID, pic BLOB, doc JSON, size ENUM('s', 'xl'), yr YEAR, flag BIT(1),"
        " bits BIT(8), memo MEDIUMTEXT,"
        " UNIQUE KEY code_born (code, born))",
        "CREATE TABLE pairs (a INT, b VARCHAR(10), v FLOAT, PRIMARY KEY (a, b))",
    ],
    "sqlite": [
        "CREATE TABLE people (id INTEGER PRIMARY KEY, email VARCHAR(120) NOT NULL UNIQUE,"
        " code CHAR(3), name TEXT, amount DECIMAL(10, 2) NOT NULL, score REAL, n SMALLINT,"
        " big BIGINT, born DATE, woke DATETIME, wake TIME, ok BOOLEAN NOT NULL, ref UUID,"
        " pic BLOB, doc JSON, UNIQUE (code, born))",
        "CREATE TABLE pairs (a INTEGER, b VARCHAR(10), v REAL, PRIMARY KEY (a, b))",
    ],
}
SCHEMA = {"postgresql": "public", "sqlite": "main", "sqlserver": "dbo"}
FIXTURE = {
    "postgresql": "pg_db",
    "mysql": "mariadb_db",
    "sqlite": "sqlite_db",
    "sqlserver": "sqlserver_db",
}
MSSQL = pytest.mark.sqlserver
INSERTS = {
    "people": "INSERT INTO people (email, code, name, amount, score, n, big, born, woke, wake,"
    " ok, pic) VALUES ('a@x.org', 'abc', 'Ann', 12.5, 0.25, 3, 9000000000,"
    " '2020-02-29', '2021-01-02 03:04:05', '06:07:08', 1 = 1, NULL)",
}


def _compatible(src: C, dst: C) -> bool:
    # Targets without json/uuid types store them as text.
    return src is dst or (src in (C.OTHER, C.UUID) and dst is C.STRING)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("postgresql", "mysql"),
        ("mysql", "postgresql"),
        ("sqlite", "postgresql"),
        ("postgresql", "sqlite"),
        ("mysql", "sqlite"),
        ("sqlite", "mysql"),
        ("postgresql", "postgresql"),
        ("mysql", "mysql"),
        # created target tables on SQL Server: the DDL transpiled from each other dialect
        pytest.param("postgresql", "sqlserver", marks=MSSQL),
        pytest.param("mysql", "sqlserver", marks=MSSQL),
        pytest.param("sqlite", "sqlserver", marks=MSSQL),
    ],
)
def test_create_table_in_other_dialect(source, target, request, tmp_path):
    src_params = request.getfixturevalue(FIXTURE[source])
    if source == target:
        tgt_params = src_params
    elif target == "sqlite":
        tgt_params = src_params.__class__(
            dialect="sqlite", database=str(tmp_path / "t.db"), options={"create": True}
        )
    else:
        tgt_params = request.getfixturevalue(FIXTURE[target])
    src, tgt = get_dialect(src_params), get_dialect(tgt_params)
    src_schema = SCHEMA.get(source, src_params.database)
    tgt_schema = SCHEMA.get(target, tgt_params.database)
    for stmt in SOURCES[source]:
        src.execute(stmt)
    src.execute(INSERTS["people"].replace("1 = 1", "true" if source == "postgresql" else "1"))
    for name in ("people", "pairs"):
        table = src.describe_table(src_schema, name)
        new_name = f"copy_{name}"
        ddl = tgt.create_table_sql(table, tgt_schema, new_name, source_dialect=source)
        tgt.execute(ddl)
        copy = tgt.describe_table(tgt_schema, new_name)
        assert [c.name for c in copy.columns] == [c.name for c in table.columns]
        for a, b in zip(table.columns, copy.columns, strict=True):
            assert _compatible(a.category, b.category), (a, b, ddl)
            # SQLite alone lets primary-key columns of rowid tables hold NULL.
            expected_nullable = a.nullable and not (a.is_primary_key and target != "sqlite")
            assert b.nullable == expected_nullable, (a, b)
            assert a.is_identity == b.is_identity, (a, b)
            if a.category is C.STRING and a.native_type in (
                "varchar",
                "character varying",
                "char",
                "character",
            ):
                assert b.max_length == a.max_length, (a, b)
            if a.precision is not None:
                assert (b.precision, b.scale) == (a.precision, a.scale), (a, b)
            # Enum value lists are not part of ColumnInfo: those become bounded strings.
            if source == target and a.native_type not in ("enum", "set", "user-defined"):
                assert (b.native_type, b.max_length) == (a.native_type, a.max_length), (a, b)
        assert copy.primary_key == table.primary_key
        assert {u.columns for u in copy.unique_constraints} == {
            u.columns for u in table.unique_constraints
        }
        cols = [c.name for c in table.columns if not c.is_computed]
        with tgt.transaction():
            tgt.begin_load(copy, cols)
            for batch in src.read_batches(table, cols, 100):
                tgt.write_batch(copy, cols, batch.cast(_target_schema(tgt, copy, cols)))
            tgt.end_load(copy, cols)
        assert tgt.count_rows(copy) == src.count_rows(table)
        if name == "people":
            row = next(tgt.read_batches(copy, ["email", "amount", "born", "ok", "big"], 10))
            got = row.to_pylist()[0]
            assert (got["email"], str(got["amount"]), str(got["born"]), got["ok"], got["big"]) == (
                "a@x.org",
                "12.50",
                "2020-02-29",
                True,
                9000000000,
            )
    src.close()
    tgt.close()


def _target_schema(dialect, table, cols):
    from masking.dialects.arrowconv import arrow_schema

    return arrow_schema([table.column(c) for c in cols])
