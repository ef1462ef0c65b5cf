"""Every native type of every dialect maps to the expected category."""

from __future__ import annotations

import pytest

from masking.dialects import DIALECTS, ConnectionParams, get_dialect
from masking.dialects.typemaps import (
    MYSQL_TYPES,
    POSTGRESQL_TYPES,
    SQLITE_TYPES,
    SQLSERVER_TYPES,
    sqlite_category,
)
from masking.schema import TypeCategory as C

SQLSERVER_EXPECTED = {
    "char": C.STRING,
    "varchar": C.STRING,
    "nchar": C.STRING,
    "nvarchar": C.STRING,
    "text": C.STRING,
    "ntext": C.STRING,
    "sysname": C.STRING,
    "tinyint": C.NUMERIC,
    "smallint": C.NUMERIC,
    "int": C.NUMERIC,
    "bigint": C.NUMERIC,
    "decimal": C.NUMERIC,
    "numeric": C.NUMERIC,
    "money": C.NUMERIC,
    "smallmoney": C.NUMERIC,
    "float": C.NUMERIC,
    "real": C.NUMERIC,
    "date": C.DATE,
    "datetime": C.DATETIME,
    "datetime2": C.DATETIME,
    "smalldatetime": C.DATETIME,
    "datetimeoffset": C.DATETIME,
    "time": C.TIME,
    "bit": C.BOOLEAN,
    "uniqueidentifier": C.UUID,
    "binary": C.BINARY,
    "varbinary": C.BINARY,
    "image": C.BINARY,
    "rowversion": C.BINARY,
    "timestamp": C.BINARY,
    "xml": C.OTHER,
    "hierarchyid": C.OTHER,
    "geography": C.OTHER,
    "geometry": C.OTHER,
    "sql_variant": C.OTHER,
    "json": C.OTHER,
    "vector": C.OTHER,
    "cursor": C.OTHER,
    "table": C.OTHER,
}

POSTGRESQL_EXPECTED = {
    "character varying": C.STRING,
    "varchar": C.STRING,
    "character": C.STRING,
    "char": C.STRING,
    "bpchar": C.STRING,
    "text": C.STRING,
    "citext": C.STRING,
    "name": C.STRING,
    '"char"': C.STRING,
    "user-defined": C.STRING,
    "enum": C.STRING,
    "smallint": C.NUMERIC,
    "integer": C.NUMERIC,
    "bigint": C.NUMERIC,
    "int2": C.NUMERIC,
    "int4": C.NUMERIC,
    "int8": C.NUMERIC,
    "smallserial": C.NUMERIC,
    "serial": C.NUMERIC,
    "bigserial": C.NUMERIC,
    "numeric": C.NUMERIC,
    "decimal": C.NUMERIC,
    "real": C.NUMERIC,
    "double precision": C.NUMERIC,
    "float4": C.NUMERIC,
    "float8": C.NUMERIC,
    "money": C.NUMERIC,
    "oid": C.NUMERIC,
    "date": C.DATE,
    "timestamp without time zone": C.DATETIME,
    "timestamp with time zone": C.DATETIME,
    "timestamp": C.DATETIME,
    "timestamptz": C.DATETIME,
    "time without time zone": C.TIME,
    "time with time zone": C.TIME,
    "time": C.TIME,
    "timetz": C.TIME,
    "boolean": C.BOOLEAN,
    "bool": C.BOOLEAN,
    "uuid": C.UUID,
    "bytea": C.BINARY,
    **{
        t: C.OTHER
        for t in (
            "json",
            "jsonb",
            "xml",
            "array",
            "inet",
            "cidr",
            "macaddr",
            "macaddr8",
            "interval",
            "bit",
            "bit varying",
            "varbit",
            "tsvector",
            "tsquery",
            "point",
            "line",
            "lseg",
            "box",
            "path",
            "polygon",
            "circle",
            "int4range",
            "int8range",
            "numrange",
            "tsrange",
            "tstzrange",
            "daterange",
            "int4multirange",
            "int8multirange",
            "nummultirange",
            "tsmultirange",
            "tstzmultirange",
            "datemultirange",
            "pg_lsn",
            "pg_snapshot",
            "txid_snapshot",
            "jsonpath",
            "hstore",
            "regclass",
            "regtype",
            "regproc",
            "xid",
            "cid",
            "tid",
            "geometry",
            "geography",
        )
    },
}

MYSQL_EXPECTED = {
    **{
        t: C.STRING
        for t in (
            "char",
            "varchar",
            "tinytext",
            "text",
            "mediumtext",
            "longtext",
            "enum",
            "set",
            "inet4",
            "inet6",
        )
    },
    **{
        t: C.NUMERIC
        for t in (
            "tinyint",
            "smallint",
            "mediumint",
            "int",
            "integer",
            "bigint",
            "decimal",
            "numeric",
            "dec",
            "fixed",
            "float",
            "double",
            "double precision",
            "real",
            "year",
            "tinyint unsigned",
            "smallint unsigned",
            "mediumint unsigned",
            "int unsigned",
            "integer unsigned",
            "bigint unsigned",
            "decimal unsigned",
            "float unsigned",
            "double unsigned",
        )
    },
    "date": C.DATE,
    "datetime": C.DATETIME,
    "timestamp": C.DATETIME,
    "time": C.TIME,
    "tinyint(1)": C.BOOLEAN,
    "bool": C.BOOLEAN,
    "boolean": C.BOOLEAN,
    "bit(1)": C.BOOLEAN,
    "uuid": C.UUID,
    **{
        t: C.BINARY
        for t in (
            "binary",
            "varbinary",
            "tinyblob",
            "blob",
            "mediumblob",
            "longblob",
            "bit",
            "geometry",
            "point",
            "linestring",
            "polygon",
            "multipoint",
            "multilinestring",
            "multipolygon",
            "geometrycollection",
        )
    },
    "json": C.OTHER,
    "vector": C.OTHER,
}

SQLITE_EXPECTED = {
    **{
        t: C.STRING
        for t in (
            "text",
            "varchar",
            "char",
            "nvarchar",
            "nchar",
            "varying character",
            "native character",
            "clob",
            "character",
            "string",
        )
    },
    **{
        t: C.NUMERIC
        for t in (
            "integer",
            "int",
            "tinyint",
            "smallint",
            "mediumint",
            "bigint",
            "unsigned big int",
            "int2",
            "int8",
            "real",
            "double",
            "double precision",
            "float",
            "numeric",
            "decimal",
        )
    },
    "date": C.DATE,
    "datetime": C.DATETIME,
    "timestamp": C.DATETIME,
    "time": C.TIME,
    "boolean": C.BOOLEAN,
    "bool": C.BOOLEAN,
    "uuid": C.UUID,
    "blob": C.BINARY,
    "json": C.OTHER,
}


@pytest.mark.parametrize(
    ("type_map", "expected"),
    [
        (SQLSERVER_TYPES, SQLSERVER_EXPECTED),
        (POSTGRESQL_TYPES, POSTGRESQL_EXPECTED),
        (MYSQL_TYPES, MYSQL_EXPECTED),
        (SQLITE_TYPES, SQLITE_EXPECTED),
    ],
    ids=["sqlserver", "postgresql", "mysql", "sqlite"],
)
def test_type_map_covers_every_native_type(type_map, expected):
    assert type_map == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sqlserver", SQLSERVER_EXPECTED),
        ("postgresql", POSTGRESQL_EXPECTED),
        ("mysql", MYSQL_EXPECTED),
        ("sqlite", SQLITE_EXPECTED),
    ],
)
def test_dialect_category_of_uses_its_map(name, expected):
    dialect = get_dialect(ConnectionParams(dialect=name))
    assert dialect.type_map is DIALECTS[name].type_map
    for native, category in expected.items():
        assert dialect.category_of(native.upper()) is category, native


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("INT", C.NUMERIC),
        ("BIGINT UNSIGNED", C.NUMERIC),
        ("CHARACTER(20)", C.STRING),
        ("VARCHAR(255)", C.STRING),
        ("NATIVE CHARACTER(70)", C.STRING),
        ("CLOB", C.STRING),
        ("BLOB", C.BINARY),
        ("", C.BINARY),
        ("REAL", C.NUMERIC),
        ("DOUBLE", C.NUMERIC),
        ("FLOATING POINT", C.NUMERIC),
        ("DECIMAL(10,5)", C.NUMERIC),
        ("MONEYISH", C.NUMERIC),
        ("DATETIME", C.DATETIME),
        ("DATE", C.DATE),
        ("BOOLEAN", C.BOOLEAN),
        ("UUID", C.UUID),
        ("POINTINT", C.NUMERIC),
        ("STRINGY TEXT", C.STRING),
        ("MY_BLOB", C.BINARY),
    ],
)
def test_sqlite_affinity_rules(declared, expected):
    assert sqlite_category(declared) is expected


def test_unknown_type_is_other():
    assert get_dialect(ConnectionParams(dialect="postgresql")).category_of("mystery") is C.OTHER
