"""Every database's refusals (unique, NOT NULL, CHECK, a value of the wrong type, a cast in a
read) become engine errors naming rule, table and column, never the value the database quoted,
whatever its quoting style: PostgreSQL's double quotes and `Key (c)=(v)` / `Failing row
contains (…)` details, MariaDB's single quotes, SQLite's `t.c`, SQL Server's `(v)`."""

from __future__ import annotations

import pyarrow as pa
import pytest

from masking.dberrors import DatabaseRefused
from masking.dialects import get_dialect
from masking.load import TableLoader, wrap_error

SECRET = "Zebulon Quixote-Sekret"
PARTS = ("Zebulon", "Quixote", "Sekret", "person77")

DDL = {
    "postgresql": (
        "CREATE TABLE people (id INT PRIMARY KEY, full_name VARCHAR(100) UNIQUE, "
        "code VARCHAR(40) NOT NULL, age INT CHECK (age < 150), note VARCHAR(100) "
        "CHECK (note NOT LIKE 'Zeb%'))"
    ),
    "mysql": (
        "CREATE TABLE people (id INT PRIMARY KEY, full_name VARCHAR(100) UNIQUE, "
        "code VARCHAR(40) NOT NULL, age INT CHECK (age < 150), note VARCHAR(100) "
        "CHECK (note NOT LIKE 'Zeb%'))"
    ),
    "sqlite": (
        "CREATE TABLE people (id INTEGER PRIMARY KEY, full_name TEXT UNIQUE, "
        "code TEXT NOT NULL, age INTEGER CHECK (age < 150), note TEXT "
        "CHECK (note NOT LIKE 'Zeb%')) STRICT"
    ),
    "sqlserver": (
        "CREATE TABLE people (id INT PRIMARY KEY, full_name VARCHAR(100) UNIQUE, "
        "code VARCHAR(40) NOT NULL, age INT CHECK (age < 150), note VARCHAR(100) "
        "CHECK (note NOT LIKE 'Zeb%'))"
    ),
}
COLUMNS = ["id", "full_name", "code", "age", "note"]


@pytest.fixture(
    params=["postgresql", "mysql", "sqlite", pytest.param("sqlserver", marks=pytest.mark.sqlserver)]
)
def db(request):
    fixture = {
        "postgresql": "pg_db",
        "mysql": "mariadb_db",
        "sqlite": "sqlite_db",
        "sqlserver": "sqlserver_db",
    }[request.param]
    params = request.getfixturevalue(fixture)
    dialect = get_dialect(params)
    dialect.execute(DDL[request.param])
    yield dialect
    dialect.close()


def info(dialect):
    return dialect.describe_table(dialect.capabilities.default_schema, "people")


def batch(rows: list[dict], types: dict | None = None) -> pa.RecordBatch:
    schema = {"id": pa.int32(), "full_name": pa.string(), "code": pa.string()}
    schema |= {"age": pa.int32(), "note": pa.string(), **(types or {})}
    return pa.RecordBatch.from_pylist(rows, schema=pa.schema(list(schema.items())))


def row(i: int, **over) -> dict:
    base = {"id": i, "full_name": f"Ann {i}", "code": f"c{i}", "age": 30, "note": "ok"}
    return {**base, **over}


def refusal(dialect, rows, types=None) -> DatabaseRefused:
    table = info(dialect)
    with pytest.raises(Exception) as caught, dialect.transaction():
        with TableLoader(dialect, "people", table, COLUMNS) as loader:
            loader.write(batch(rows, types), 1)
    return caught.value


def assert_value_free(error: Exception) -> None:
    text = str(error) + repr(error.args)
    assert not [p for p in PARTS if p.lower() in text.lower()], text
    assert "people" in text


def test_unique_violation(db):
    error = refusal(db, [row(1, full_name=SECRET), row(2, full_name=SECRET)])
    assert_value_free(error)
    # PostgreSQL builds the unique index after the load and says so in its own words.
    assert getattr(error, "rule", "unique") == "unique" and "unique" in str(error).lower(), error


def test_not_null_violation(db):
    error = refusal(db, [row(1, code=None, full_name=SECRET)])
    assert_value_free(error)
    assert error.rule == "not_null" and error.column == "code", error


def test_check_violation_quoting_the_row(db):
    error = refusal(db, [row(1, note=SECRET, full_name=SECRET)])
    assert_value_free(error)
    assert error.rule == "check", error


def test_a_value_of_the_wrong_type(db):
    error = refusal(db, [row(1, age=SECRET)], types={"age": pa.string()})
    assert_value_free(error)
    # Drivers differ: a refused conversion, or (ODBC) a string too long for the parameter.
    assert getattr(error, "rule", "type") in ("type", "length"), error


def test_a_cast_in_a_read_quotes_nothing(db):
    table = info(db)
    with db.transaction():
        with TableLoader(db, "people", table, COLUMNS) as loader:
            loader.write(batch([row(1, full_name=SECRET)]), 1)
    cast = {
        "postgresql": 'CAST("full_name" AS INT) = 1',
        "mysql": "CAST(`full_name` AS SIGNED) = 1 AND 1 / 0 = 'x'",
        "sqlite": 'CAST("full_name" AS INT) = 1',
        "sqlserver": "CAST([full_name] AS INT) = 1",
    }[db.name]
    try:
        list(db.read_batches(table, COLUMNS, 100, where=cast))
    except Exception as exc:  # the engine's extract stage wraps exactly like this
        error = wrap_error(exc, table="people", stage="extract", columns=COLUMNS)
        assert_value_free(error)
        assert error.rule == "type", error
    else:  # MariaDB and SQLite convert silently: no error, nothing quoted
        assert db.name in ("mysql", "sqlite")
