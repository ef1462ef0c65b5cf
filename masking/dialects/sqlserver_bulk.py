"""SQL Server bulk load: the TDS bulk-copy protocol into staging tables, moved into the target
by one INSERT ... SELECT inside the run's transaction.

Why staging: mssql-python's bulk copy runs on a connection of its own (its native TDS core),
which autocommits, so it cannot write into the run's transaction on the pyodbc connection.
The rows go instead into staging tables created in the target's schema, named
`maskflow_stage_<random hex>[_<n>]` (regular tables: global `##` temporary tables are not
available everywhere); end_load moves them with one INSERT ... SELECT on the run's connection
and drops them in the same transaction. A failed or cancelled run never touched the target;
staging tables left by a rollback are dropped right after it (see SQLServerDialect._rollback).

One auxiliary connection per dialect serves every table of the run (a TDS login can take a
second; bulk copy through mssql-python's cursor would open one per call). The rows' way
through staging is sqlserver_load.py.

Layouts. `table`: one staging table with exactly the loaded columns, types and collations
copied from the target by SELECT ... INTO (no IDENTITY property), filled by one bulk copy per
flush. `columns`: one staging table per column, `(rn bigint IDENTITY, v <type>)`, filled one
column at a time and joined on rn when moved. The bulk-copy client learns the destination's
columns with a T-SQL idiom that concatenates column names into a variable across rows; a
server that assigns only the last row's value there (the Babelfish stand-in does) would make
it load one column and leave the others NULL. describes_all_columns probes the idiom once per
connection, and such a server gets the `columns` layout, which needs one column only."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from masking.dberrors import database_error
from masking.dialects import sqlserver_sql as q
from masking.errors import MaskingError
from masking.schema import ColumnInfo, TableInfo, TypeCategory

CONCAT_PROBE = (
    "DECLARE @s nvarchar(20); "
    "SELECT @s = COALESCE(@s + N',', N'') + v FROM (VALUES (N'a'), (N'b')) AS t(v); "
    "SELECT @s AS s"
)
OPTIONS = {
    "batch_size": 0,
    "keep_identity": True,
    "keep_nulls": True,
    "table_lock": True,
    "check_constraints": False,  # the target checks them when the rows are moved
    "fire_triggers": False,  # likewise: the target's triggers fire on INSERT ... SELECT
    "use_internal_transaction": False,
}
# Errors from the Arrow path that a retry with Python tuples may avoid.
_ARROW_TYPE_ERROR = re.compile(
    r"arrow|unsupported (python |tds |destination )?type|type combination|timezone-aware|"
    r"type ?conversion",
    re.I,
)


def is_arrow_type_error(exc: BaseException) -> bool:
    return isinstance(exc, TypeError) or bool(_ARROW_TYPE_ERROR.search(str(exc)))


def core_connect(conn_str: str, login_timeout: int) -> Any:
    """A connection of mssql-python's native TDS core (autocommit), which bulk-copies on the
    session it has instead of opening one per call."""
    import mssql_py_core
    from mssql_python.connection_string_parser import _ConnectionStringParser
    from mssql_python.helpers import connstr_to_pycore_params

    context = connstr_to_pycore_params(
        _ConnectionStringParser(validate_keywords=False)._parse(conn_str)
    )
    context["connect_timeout"] = max(1, int(login_timeout))
    return mssql_py_core.PyCoreConnection(context)


def core_execute(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    try:
        cur.execute(sql)
        try:
            return [tuple(r) for r in cur.fetchall()]
        except Exception:  # noqa: BLE001 - a statement without a result set
            return []
    finally:
        close_quietly(cur)


def describes_all_columns(conn: Any) -> bool:
    rows = core_execute(conn, CONCAT_PROBE)
    return bool(rows) and rows[-1][0] == "a,b"


def close_quietly(resource: Any) -> None:
    try:
        resource.close()
    except Exception:  # noqa: BLE001 - already closed or the session is gone
        pass


# --- statements -------------------------------------------------------------------------------

_HEX = frozenset("0123456789abcdef")
STAGE_PREFIX = "maskflow_stage_"


def stage_names(token: str, count: int | None) -> list[str]:
    """Table layout: [prefix+token]; column layout: one name per column."""
    if not token or not set(token) <= _HEX:
        raise ValueError("staging token must be lowercase hex")
    base = STAGE_PREFIX + token
    return [base] if count is None else [f"{base}_{i}" for i in range(count)]


def column_stage_type(col: ColumnInfo) -> str:
    """A type holding every value bulk copy sends for `col` (converted to the target's own
    type by INSERT ... SELECT)."""
    native = col.native_type.lower()
    if col.category in (TypeCategory.STRING, TypeCategory.OTHER):
        return "nvarchar(max)"
    if col.category is TypeCategory.BINARY:
        return "varbinary(max)"
    if native in AS_TEXT:
        return "nvarchar(max)"
    if native in ISO_TEXT:
        return "nvarchar(40)"
    if col.category is TypeCategory.DATETIME:
        return "datetimeoffset(7)" if native == "datetimeoffset" else "datetime2(7)"
    if col.category is TypeCategory.TIME:
        return "time(7)"
    fixed = {"date", "bit", "uniqueidentifier", "tinyint", "smallint", "int", "bigint"}
    if native in fixed | {"money", "smallmoney", "float", "real"}:
        return native
    return "nvarchar(max)"


# Staged as text in the column layout, converted by INSERT ... SELECT: the Babelfish stand-in
# (the only server known to need that layout) misreads the bulk-copy client's decimal values.
AS_TEXT = frozenset({"decimal", "numeric", "money", "smallmoney"})
# Dates and instants go into column stages as ISO text too, cast by the move to date or
# datetime2(7): the stand-in takes them as text about seven times faster than as date or
# datetime2 through bulk copy (1,000,000 values: 0.5 s against 3.7 s). 'YYYY-MM-DD' and
# 'YYYY-MM-DD hh:mm:ss[.fffffff]' read the same under any language or DATEFORMAT when cast to
# date or datetime2 (only datetime and smalldatetime would read them as year-day-month under
# dmy, and no string is cast to those), and CAST runs faster on the stand-in than CONVERT
# with a style (the move of a 1,000,000-row table with a date and an instant: 5.8 s against
# 7.3 s). An instant goes through datetime2(7), as it did when staged in that type, so the
# target rounds it the same way. `native: type cast to`.
ISO_TEXT = {
    "date": "date",
    "datetime": "datetime2(7)",
    "datetime2": "datetime2(7)",
    "smalldatetime": "datetime2(7)",
    "datetimeoffset": "datetime2(7)",
}
_FRACTION = r"\.(\d{7})\d+$"  # 8 or 9 fraction digits: the first 7


def iso_text(values: pa.Array, native: str = "datetime2") -> pa.Array:
    """Dates and naive (UTC) timestamps as ISO text, 'YYYY-MM-DD[ hh:mm:ss[.fffffff]]', for a
    column of type `native`; nanoseconds below datetime2's 100 ns are cut, as that type holds
    none of them, and an instant bound for a date column keeps its date, as SQL Server's own
    conversion does."""
    stamp = pa.types.is_timestamp(values.type)
    if stamp and values.type.tz is not None:
        values = values.cast(pa.timestamp(values.type.unit))
    text = values.cast(pa.string())
    if stamp and native == "date":
        text = pc.utf8_slice_codeunits(text, 0, 10)
    elif stamp and values.type.unit == "ns":
        text = pc.replace_substring_regex(text, _FRACTION, r".\1")
    return text


def staged_value(native: str, value: str) -> str:
    """The move's expression for a staged value of a column of type `native`."""
    if native not in ISO_TEXT:
        return value
    converted = f"CAST({value} AS {ISO_TEXT[native]})"
    return f"TODATETIMEOFFSET({converted}, 0)" if native == "datetimeoffset" else converted


def staged_column(values: pa.Array | pa.ChunkedArray, native: str) -> pa.Table:
    """`values` of a column of type `native` as its column stage takes them: one column `v`,
    decimals and money as text (AS_TEXT), dates and instants as ISO text (ISO_TEXT)."""
    if native in AS_TEXT:
        values = values.cast(pa.string())
    elif native in ISO_TEXT:
        values = iso_text(values, native)
    return pa.table({"v": values})


def column_stage_create(schema: str, name: str, col: ColumnInfo) -> str:
    return (
        f"CREATE TABLE {q.qualified(schema, name)} "
        f"([rn] bigint IDENTITY(1, 1) NOT NULL, [v] {column_stage_type(col)} NULL)"
    )


def column_stage_index(schema: str, name: str) -> str:
    """A unique index on a column stage's rn, built once the stage is filled, so the planner
    knows each join of the move matches one row per row. Without it the stand-in plans the
    move from no statistics: a 12-column table's join was estimated at about 10^45 rows, and
    counting that join took 532 s before autovacuum had analysed the stages, 3 s after. Its
    cost is about what the move then saves (1,000,000 rows, 12 columns: 2.7 s of builds, a
    move 3 s shorter); an index present during the bulk copy doubles the copy's time."""
    index = q.quote(name + "_rn")
    return f"CREATE UNIQUE CLUSTERED INDEX {index} ON {q.qualified(schema, name)} ([rn])"


def table_stage_create(
    table: TableInfo, columns: Sequence[ColumnInfo], name: str, offsets: Sequence[str] = ()
) -> str:
    """SELECT ... INTO copies types, lengths and collations; the UNION ALL keeps an IDENTITY
    property from being copied, so explicit key values go in unchanged. NOLOCK: the run's
    transaction may hold exclusive locks on the target; reading no row needs only a
    schema-stability lock, which those do not block. `offsets`: smallint columns for the
    per-row offsets of datetimeoffset columns."""
    extra = [f"CAST(NULL AS smallint) AS {q.quote(n)}" for n in offsets]
    items = ", ".join([*(q.stage_column(c) for c in columns), *extra])
    source = f"{q.qualified(table.schema, table.name)} AS t WITH (NOLOCK) WHERE 1 = 0"
    return (
        f"SELECT {items} INTO {q.qualified(table.schema, name)} FROM {source} "
        f"UNION ALL SELECT {items} FROM {source}"
    )


def move_rows(
    table: TableInfo,
    columns: Sequence[str],
    names: Sequence[str],
    joined: bool,
    offsets: Sequence[tuple[int, str]] = (),
) -> str:
    """INSERT ... SELECT from the staging table(s) into the target, in the run's transaction.
    No TABLOCK: inside a user transaction it gains no minimal logging under the full recovery
    model and would wait for every concurrent reader first. `offsets`: (column index, offset
    column) for datetimeoffset columns; the column layout stages each offset column after the
    columns, in that order. A staged instant is UTC and moves to its row's offset, if any."""
    target = q.qualified(table.schema, table.name)
    cols = ", ".join(q.quote(c) for c in columns)
    if joined:  # column stages: dates and instants staged as text (ISO_TEXT)
        natives = [(c.native_type.lower() if (c := table.column(n)) else "") for n in columns]
        picks = [staged_value(natives[i], f"s{i}.[v]") for i in range(len(columns))]
        shifts = [f"s{len(columns) + j}.[v]" for j in range(len(offsets))]
    else:
        picks = [q.quote(c) for c in columns]
        shifts = [q.quote(n) for _, n in offsets]
    for (i, _), shift in zip(offsets, shifts, strict=True):
        picks[i] = (
            f"CASE WHEN {shift} IS NULL THEN {picks[i]} ELSE SWITCHOFFSET({picks[i]}, {shift}) END"
        )
    if not joined:
        source = q.qualified(table.schema, names[0])
        return f"INSERT INTO {target} ({cols}) SELECT {', '.join(picks)} FROM {source}"
    source = f"{q.qualified(table.schema, names[0])} AS s0"
    for i, name in enumerate(names[1:], start=1):
        source += f" JOIN {q.qualified(table.schema, name)} AS s{i} ON s{i}.[rn] = s0.[rn]"
    return f"INSERT INTO {target} ({cols}) SELECT {', '.join(picks)} FROM {source}"


def drop_stage(schema: str, name: str) -> str:
    qualified = q.qualified(schema, name)
    literal = qualified.replace("'", "''")
    return f"IF OBJECT_ID(N'{literal}', N'U') IS NOT NULL DROP TABLE {qualified}"


# --- rows -------------------------------------------------------------------------------------


def stage_batch(
    batch: pa.RecordBatch | pa.Table, columns: Sequence[str], natives: Sequence[str]
) -> pa.Table:
    """Exactly `columns`, in order. Timestamps are UTC: tz-aware into datetimeoffset, naive
    elsewhere (bulk copy refuses to drop a zone)."""
    arrays, fields = [], []
    for name, native in zip(columns, natives[: len(columns)], strict=True):
        arr = batch.column(batch.schema.get_field_index(name))
        if pa.types.is_timestamp(arr.type):
            if native == "datetimeoffset" and arr.type.tz is None:
                arr = arr.cast(pa.timestamp(arr.type.unit, tz="UTC"))
            elif native != "datetimeoffset" and arr.type.tz is not None:
                arr = arr.cast(pa.timestamp(arr.type.unit))
        arrays.append(arr)
        fields.append(pa.field(name, arr.type, nullable=True))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def tuple_rows(table: pa.Table, natives: Sequence[str]) -> list[tuple[Any, ...]]:
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return [
        tuple(encode_staged(v, n) for v, n in zip(row, natives, strict=True))
        for row in zip(*columns, strict=True)
    ]


def encode_staged(v: Any, native: str) -> Any:
    if native == "datetimeoffset" and isinstance(v, dt.datetime):
        # Bulk copy wants an aware value here; naive ones are UTC (as in the Arrow path).
        return v.astimezone(dt.timezone.utc) if v.tzinfo else v.replace(tzinfo=dt.timezone.utc)
    return encode(v)


def encode(v: Any) -> Any:
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        # datetimeoffset receives UTC; a naive datetime2 converts with offset +00:00.
        return v.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return v


def key(table: TableInfo) -> tuple[str, str]:
    return (table.schema, table.name)


def refused(exc: BaseException, table: TableInfo, stage: str) -> MaskingError:
    """A driver error of a load, as an engine error naming the table, never a value."""
    return database_error(
        exc,
        table=f"{table.schema}.{table.name}",
        stage=stage,
        columns=[c.name for c in table.columns],
    )
