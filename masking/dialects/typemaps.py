"""Native type -> TypeCategory, one map per dialect. Keys are lowercase base type names."""

from __future__ import annotations

from masking.schema import TypeCategory

S, N, D, DT, T, B, U, BIN, OTH = (
    TypeCategory.STRING,
    TypeCategory.NUMERIC,
    TypeCategory.DATE,
    TypeCategory.DATETIME,
    TypeCategory.TIME,
    TypeCategory.BOOLEAN,
    TypeCategory.UUID,
    TypeCategory.BINARY,
    TypeCategory.OTHER,
)


def _m(category: TypeCategory, names: str) -> dict[str, TypeCategory]:
    return {n.strip(): category for n in names.split(",") if n.strip()}


SQLSERVER_TYPES: dict[str, TypeCategory] = {
    **_m(S, "char, varchar, nchar, nvarchar, text, ntext, sysname"),
    **_m(N, "tinyint, smallint, int, bigint, decimal, numeric, money, smallmoney, float, real"),
    **_m(D, "date"),
    **_m(DT, "datetime, datetime2, smalldatetime, datetimeoffset"),
    **_m(T, "time"),
    **_m(B, "bit"),
    **_m(U, "uniqueidentifier"),
    # rowversion/timestamp are binary(8) counters maintained by the server.
    **_m(BIN, "binary, varbinary, image, rowversion, timestamp"),
    **_m(OTH, "xml, hierarchyid, geography, geometry, sql_variant, json, vector, cursor, table"),
}

POSTGRESQL_TYPES: dict[str, TypeCategory] = {
    **_m(
        S,
        "character varying, varchar, character, char, bpchar, text, citext, name, "
        '"char", user-defined, enum',
    ),
    **_m(
        N,
        "smallint, integer, bigint, int2, int4, int8, smallserial, serial, bigserial, "
        "numeric, decimal, real, double precision, float4, float8, money, oid",
    ),
    **_m(D, "date"),
    **_m(DT, "timestamp without time zone, timestamp with time zone, timestamp, timestamptz"),
    **_m(T, "time without time zone, time with time zone, time, timetz"),
    **_m(B, "boolean, bool"),
    **_m(U, "uuid"),
    **_m(BIN, "bytea"),
    **_m(
        OTH,
        "json, jsonb, xml, array, inet, cidr, macaddr, macaddr8, interval, bit, "
        "bit varying, varbit, tsvector, tsquery, point, line, lseg, box, path, polygon, "
        "circle, int4range, int8range, numrange, tsrange, tstzrange, daterange, "
        "int4multirange, int8multirange, nummultirange, tsmultirange, tstzmultirange, "
        "datemultirange, pg_lsn, pg_snapshot, txid_snapshot, jsonpath, hstore, regclass, "
        "regtype, regproc, xid, cid, tid, geometry, geography",
    ),
}

MYSQL_TYPES: dict[str, TypeCategory] = {
    **_m(S, "char, varchar, tinytext, text, mediumtext, longtext, enum, set, inet4, inet6"),
    **_m(
        N,
        "tinyint, smallint, mediumint, int, integer, bigint, decimal, numeric, dec, fixed, "
        "float, double, double precision, real, year, tinyint unsigned, smallint unsigned, "
        "mediumint unsigned, int unsigned, integer unsigned, bigint unsigned, "
        "decimal unsigned, float unsigned, double unsigned",
    ),
    **_m(D, "date"),
    **_m(DT, "datetime, timestamp"),
    **_m(T, "time"),
    **_m(B, "tinyint(1), bool, boolean, bit(1)"),
    **_m(U, "uuid"),
    **_m(
        BIN,
        "binary, varbinary, tinyblob, blob, mediumblob, longblob, bit, geometry, point, "
        "linestring, polygon, multipoint, multilinestring, multipolygon, "
        "geometrycollection",
    ),
    **_m(OTH, "json, vector"),
}


def sqlite_category(declared: str) -> TypeCategory:
    """SQLite affinity rules (https://sqlite.org/datatype3.html §3.1), refined for the common
    declared names that carry meaning beyond affinity (dates, booleans, uuids, json)."""
    t = declared.lower().strip()
    base = t.split("(")[0].strip()
    if base in SQLITE_TYPES:
        return SQLITE_TYPES[base]
    if "int" in t:
        return N
    if "char" in t or "clob" in t or "text" in t:
        return S
    if "blob" in t or t == "":
        return BIN
    if "real" in t or "floa" in t or "doub" in t:
        return N
    return N  # NUMERIC affinity


SQLITE_TYPES: dict[str, TypeCategory] = {
    **_m(
        S,
        "text, varchar, char, nvarchar, nchar, varying character, native character, clob, "
        "character, string",
    ),
    **_m(
        N,
        "integer, int, tinyint, smallint, mediumint, bigint, unsigned big int, int2, int8, "
        "real, double, double precision, float, numeric, decimal",
    ),
    **_m(D, "date"),
    **_m(DT, "datetime, timestamp"),
    **_m(T, "time"),
    **_m(B, "boolean, bool"),
    **_m(U, "uuid"),
    **_m(BIN, "blob"),
    **_m(OTH, "json"),
}
