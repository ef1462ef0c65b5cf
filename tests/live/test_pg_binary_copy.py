"""PostgreSQL loads through one COPY stream per table: binary wire format for every supported
type (round-tripped exactly), CSV for the rest, value-free errors naming the row, and a clean
abort that lets the transaction roll back."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from masking.dialects import get_dialect
from masking.dialects.arrowconv import arrow_schema
from masking.errors import TerminalError

pytestmark = pytest.mark.live

ALL_TYPES = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE every (
    k integer PRIMARY KEY, i2 smallint, i4 integer, i8 bigint, r real, f8 double precision,
    n0 numeric(5, 0), n1 numeric(9, 5), n2 numeric(12, 2), n3 numeric(38, 10), nu numeric,
    b boolean, d date, ts timestamp, tz timestamptz, tm time, t text, vc varchar(10),
    ch char(5), e mood, by bytea, j json, jb jsonb, u uuid
)"""

EDGE_ROWS = [
    {
        "k": 1,
        "i2": -32768,
        "i4": -2147483648,
        "i8": -(2**63),
        "r": -1.5,
        "f8": -1e308,
        "n0": Decimal("-99999"),
        "n1": Decimal("-9999.99999"),
        "n2": Decimal("-9999999999.99"),
        "n3": Decimal("-1234567890123456789012345678.0123456789"),
        "nu": Decimal("-0.0000000001"),
        "b": False,
        "d": dt.date(1, 1, 1),
        "ts": dt.datetime(1, 1, 1, 0, 0, 0, 1),
        "tz": dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
        "tm": dt.time(0, 0),
        "t": "",
        "vc": "ü€𝄞",
        "ch": "a",
        "e": "sad",
        "by": b"",
        "j": "[]",
        "jb": "{}",
        "u": "00000000-0000-0000-0000-000000000000",
    },
    {
        "k": 2,
        "i2": 32767,
        "i4": 2147483647,
        "i8": 2**63 - 1,
        "r": 3.25,
        "f8": 5e-324,
        "n0": Decimal("0"),
        "n1": Decimal("0.00001"),
        "n2": Decimal("0.10"),
        "n3": Decimal("9999999999999999999999999999.9999999999"),
        "nu": Decimal("12345678901234567890.5"),
        "b": True,
        "d": dt.date(9999, 12, 31),
        "ts": dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
        "tz": dt.datetime(2024, 2, 29, 12, 30, tzinfo=dt.UTC),
        "tm": dt.time(23, 59, 59, 999999),
        "t": 'tab\tnew\nline "q" \\ ,;',
        "vc": "1234567890",
        "ch": "abcde",
        "e": "happy",
        "by": bytes(range(256)),
        "j": '{"a": [1, 2.5, null]}',
        "jb": '{"a": [1, 2.5, null]}',
        "u": "6f1c2d9e-8b7a-4c3d-9e8f-0a1b2c3d4e5f",
    },
    {
        "k": 3,
        **{
            c: None
            for c in (
                "i2",
                "i4",
                "i8",
                "r",
                "f8",
                "n0",
                "n1",
                "n2",
                "n3",
                "nu",
                "b",
                "d",
                "ts",
                "tz",
                "tm",
                "t",
                "vc",
                "ch",
                "e",
                "by",
                "j",
                "jb",
                "u",
            )
        },
    },
    {
        "k": 4,
        "i2": 0,
        "i4": 0,
        "i8": 0,
        "r": 0.0,
        "f8": 0.0,
        "n0": Decimal("12345"),
        "n1": Decimal("1.5"),
        "n2": Decimal("-0.01"),
        "n3": Decimal("0"),
        "nu": Decimal("0"),
        "b": None,
        "d": dt.date(2000, 1, 1),
        "ts": dt.datetime(2000, 1, 1),
        "tz": dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
        "tm": dt.time(12, 0, 0, 1),
        "t": "x" * 5000,
        "vc": None,
        "ch": "ab",
        "e": "ok",
        "by": b"\x00\xff",
        "j": '"s"',
        "jb": "[1, 2]",
        "u": "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
    },
]


def _load(d, table, cols, batches, *, stream=True):  # type: ignore[no-untyped-def]
    with d.transaction():
        d.clear_table(table)
        if stream:
            d.begin_load(table, cols)
        for batch in batches:
            d.write_batch(table, cols, batch)
        if stream:
            d.end_load(table, cols)


def _read(d, table, cols):  # type: ignore[no-untyped-def]
    return [r for b in d.read_batches(table, cols, 3) for r in b.to_pylist()]


def _expected(rows, table):  # type: ignore[no-untyped-def]
    """What PostgreSQL stores: char(n) padded, jsonb normalised, uuids lower-case."""
    out = []
    for r in rows:
        r = dict(r)
        if r.get("ch") is not None:
            r["ch"] = r["ch"].ljust(5)
        if r.get("u") is not None:
            r["u"] = r["u"].lower()
        if r.get("r") is not None:
            r["r"] = float(pa.scalar(r["r"], pa.float32()).as_py())
        out.append(r)
    return out


def test_every_binary_type_round_trips_through_one_stream(pg_db):  # type: ignore[no-untyped-def]
    d = get_dialect(pg_db)
    d.execute(ALL_TYPES)
    table = d.describe_table("public", "every")
    cols = [c.name for c in table.columns]
    from masking.dialects import pgbinary

    # Every column here has a binary encoder, so the stream is binary, not CSV.
    assert pgbinary.encoders_for(list(table.columns)) is not None
    schema = arrow_schema(table.columns)
    batches = [
        pa.RecordBatch.from_pylist(EDGE_ROWS[:2], schema=schema),
        pa.RecordBatch.from_pylist(EDGE_ROWS[2:], schema=schema),
    ]
    _load(d, table, cols, batches)
    got = _read(d, table, cols)
    expected = _expected(EDGE_ROWS, table)
    # json keeps its text, jsonb is normalised by the server: compare that one as parsed.
    import json

    for g, e in zip(got, expected, strict=True):
        assert (json.loads(g.pop("jb")) if g["jb"] is not None else None) == (
            json.loads(e.pop("jb")) if e["jb"] is not None else None
        )
        e.pop("jb", None)
        g.pop("jb", None)
        # numeric without precision is read as decimal(38, 10): compare by value
        assert (g.pop("nu") is None) == (e["nu"] is None)
        e.pop("nu")
        assert g == e
    assert d._rows("SELECT nu::text FROM every ORDER BY k") == [
        ("-0.0000000001",),
        ("12345678901234567890.5000000000",),
        (None,),
        ("0.0000000000",),
    ]
    d.close()


def test_unsupported_type_loads_through_csv_stream(pg_db):  # type: ignore[no-untyped-def]
    d = get_dialect(pg_db)
    d.execute("CREATE TABLE net (k int PRIMARY KEY, addr inet, span interval, name text)")
    table = d.describe_table("public", "net")
    cols = [c.name for c in table.columns]
    from masking.dialects import pgbinary

    assert pgbinary.encoders_for(list(table.columns)) is None
    rows = [
        {"k": 1, "addr": "10.0.0.1/32", "span": "1 day 02:00:00", "name": 'a,"b"'},
        {"k": 2, "addr": None, "span": None, "name": ""},
    ]
    batch = pa.RecordBatch.from_pylist(rows, schema=arrow_schema(table.columns))
    _load(d, table, cols, [batch])
    assert _read(d, table, cols) == rows
    d.close()


def test_unique_violation_names_the_row_and_rolls_back(pg_db):  # type: ignore[no-untyped-def]
    d = get_dialect(pg_db)
    d.execute("CREATE TABLE p (k int PRIMARY KEY, email text UNIQUE)")
    d.execute("INSERT INTO p VALUES (100, 'keep@example.org')")
    table = d.describe_table("public", "p")
    schema = arrow_schema(table.columns)
    first = pa.RecordBatch.from_pylist(
        [{"k": i, "email": f"u{i}@example.org"} for i in range(1, 4)], schema=schema
    )
    clash = pa.RecordBatch.from_pylist(
        [
            {"k": 4, "email": "secret.person@example.org"},
            {"k": 5, "email": "secret.person@example.org"},
        ],
        schema=schema,
    )
    with pytest.raises(TerminalError) as err:
        with d.transaction():
            d.begin_load(table, ["k", "email"])
            try:
                d.write_batch(table, ["k", "email"], first)
                d.write_batch(table, ["k", "email"], clash)
                d.end_load(table, ["k", "email"])
            except BaseException:
                d.abort_load(table, ["k", "email"])
                raise
    text = str(err.value)
    assert "secret.person" not in text and "example.org" not in text
    assert "public.p" in text and "row #5" in text
    # rolled back, and the connection is usable again
    assert d._rows("SELECT k, email FROM p") == [(100, "keep@example.org")]
    d.close()


def test_abort_mid_stream_leaves_connection_usable(pg_db):  # type: ignore[no-untyped-def]
    d = get_dialect(pg_db)
    d.execute("CREATE TABLE a (k int PRIMARY KEY, v text)")
    table = d.describe_table("public", "a")
    batch = pa.RecordBatch.from_pylist(
        [{"k": i, "v": "x"} for i in range(50)], schema=arrow_schema(table.columns)
    )
    with pytest.raises(RuntimeError, match="stop here"):
        with d.transaction():
            d.begin_load(table, ["k", "v"])
            d.write_batch(table, ["k", "v"], batch)
            d.abort_load(table, ["k", "v"])
            raise RuntimeError("stop here")
    assert d._rows("SELECT count(*) FROM a") == [(0,)]
    _load(d, table, ["k", "v"], [batch])
    assert d._rows("SELECT count(*) FROM a") == [(50,)]
    d.close()


def test_value_out_of_range_is_a_value_free_error(pg_db):  # type: ignore[no-untyped-def]
    d = get_dialect(pg_db)
    d.execute("CREATE TABLE s (k int PRIMARY KEY, small smallint, u uuid)")
    table = d.describe_table("public", "s")
    schema = arrow_schema(table.columns)
    for row, needle in (
        ({"k": 1, "small": 40000, "u": None}, "40000"),
        ({"k": 2, "small": 1, "u": "not-a-uuid-but-secret"}, "secret"),
    ):
        batch = pa.RecordBatch.from_pylist([row], schema=schema)
        with pytest.raises(TerminalError) as err:
            _load(d, table, ["k", "small", "u"], [batch])
        assert needle not in str(err.value)
        assert d._rows("SELECT count(*) FROM s") == [(0,)]
    d.close()


TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20)
ROW = st.fixed_dictionaries(
    {
        "i2": st.none() | st.integers(-(2**15), 2**15 - 1),
        "n": st.none()
        | st.decimals(
            min_value=Decimal("-9999999.9999"),
            max_value=Decimal("9999999.9999"),
            places=4,
            allow_nan=False,
            allow_infinity=False,
        ),
        "tz": st.none()
        | st.datetimes(dt.datetime(1, 1, 2), dt.datetime(9999, 12, 30), timezones=st.just(dt.UTC)),
        "tm": st.none() | st.times(),
        "u": st.none() | st.uuids().map(str),
        "t": st.none() | TEXT,
    }
)


def test_streamed_batches_round_trip_property(pg_db):  # type: ignore[no-untyped-def]
    d = get_dialect(pg_db)
    d.execute(
        "CREATE TABLE h (k int PRIMARY KEY, i2 smallint, n numeric(11, 4), "
        "tz timestamptz, tm time, u uuid, t varchar(20))"
    )
    table = d.describe_table("public", "h")
    cols = [c.name for c in table.columns]
    schema = arrow_schema(table.columns)

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(chunks=st.lists(st.lists(ROW, max_size=8), min_size=1, max_size=4))
    def check(chunks):  # type: ignore[no-untyped-def]
        k = 0
        batches, data = [], []
        for chunk in chunks:
            rows = []
            for r in chunk:
                rows.append({"k": k, **r})
                k += 1
            data.extend(rows)
            batches.append(pa.RecordBatch.from_pylist(rows, schema=schema))
        _load(d, table, cols, batches)
        got = _read(d, table, cols)
        expected = [
            {
                **r,
                "n": None if r["n"] is None else r["n"].quantize(Decimal("0.0001")),
                "u": None if r["u"] is None else str(uuid.UUID(r["u"])),
            }
            for r in data
        ]
        assert got == expected

    check()
    d.close()


DEFERRED = """
CREATE TABLE parent (k int PRIMARY KEY, code text UNIQUE);
CREATE TABLE child (k int PRIMARY KEY, parent_code text REFERENCES parent (code));
CREATE TABLE people (k int PRIMARY KEY, email text CONSTRAINT people_email_uq UNIQUE,
                     nick text, tag text);
CREATE UNIQUE INDEX people_nick_lower ON people (lower(nick)) WHERE tag IS NOT NULL;
CREATE INDEX people_tag ON people (tag DESC NULLS LAST) INCLUDE (nick);
CREATE INDEX people_nick_hash ON people USING hash (nick) WHERE tag IS NULL;
CREATE INDEX parent_code_k ON parent (code, k);
"""


def _indexes(d, table):  # type: ignore[no-untyped-def]
    return sorted(
        d._rows("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", (table,))
    )


def test_indexes_of_an_empty_table_are_built_after_the_load(pg_db):  # type: ignore[no-untyped-def]
    d = get_dialect(pg_db)
    d.execute(DEFERRED)
    people, parent = d.describe_table("public", "people"), d.describe_table("public", "parent")
    before = {t: _indexes(d, t) for t in ("people", "parent")}
    cols = ["k", "email", "nick", "tag"]
    rows = [{"k": i, "email": f"p{i}@example.org", "nick": f"N{i}", "tag": "x"} for i in range(20)]
    batch = pa.RecordBatch.from_pylist(rows, schema=arrow_schema(people.columns))
    with d.transaction():
        d.begin_load(people, cols)
        d.write_batch(people, cols, batch)
        d.end_load(people, cols)
        rebuilt = _indexes(d, "people")
    assert rebuilt == before["people"]
    assert {t: _indexes(d, t) for t in ("people", "parent")} == before
    assert d._rows("SELECT count(*) FROM people") == [(20,)]

    class Undo(Exception):
        pass

    with pytest.raises(Undo):
        with d.transaction():
            d.execute("DELETE FROM people")
            dropped = sorted(name for name, _ in d._defer_indexes(people))
            during = [name for name, _ in _indexes(d, "people")]
            # A key a foreign key references is never dropped, even while loading.
            d.execute("DELETE FROM child")
            d.execute("DELETE FROM parent")
            kept = sorted(name for name, _ in d._defer_indexes(parent))
            parent_during = [name for name, _ in _indexes(d, "parent")]
            raise Undo
    # the primary key too: no foreign key relies on it, and it is built once after the load;
    # plain indexes (partial, hash, with included columns) as well
    assert dropped == [
        "people_email_uq", "people_nick_hash", "people_nick_lower", "people_pkey", "people_tag"
    ]  # fmt: skip
    assert during == []
    assert kept == ["parent_code_k", "parent_pkey"] and parent_during == ["parent_code_key"]
    assert {t: _indexes(d, t) for t in ("people", "parent")} == before
    d.close()


PARTITIONED = """
CREATE TABLE events (k int, region int, note text, PRIMARY KEY (k, region))
    PARTITION BY LIST (region);
CREATE TABLE events_1 PARTITION OF events FOR VALUES IN (1);
CREATE INDEX events_note ON events (note);
CREATE INDEX events_1_local ON events_1 (k DESC);
"""


def test_partitioned_tables_keep_the_indexes_their_partitions_share(pg_db):  # type: ignore[no-untyped-def]
    """A partitioned table's index definitions read ON ONLY, and a partition cannot drop what
    its parent owns: loading either keeps those; a partition's own index is still built after
    the load, and a run into the partition leaves every index as it was."""
    d = get_dialect(pg_db)
    d.execute(PARTITIONED)
    parent, part = d.describe_table("public", "events"), d.describe_table("public", "events_1")
    before = {t: _indexes(d, t) for t in ("events", "events_1")}
    with d.transaction():
        assert d._defer_indexes(parent) == []
        deferred = d._defer_indexes(part)
        during = [name for name, _ in _indexes(d, "events_1")]
        for _, statement in deferred:
            d.execute(statement)
    assert [name for name, _ in deferred] == ["events_1_local"]
    assert during == ["events_1_note_idx", "events_1_pkey"]
    assert _indexes(d, "events") == before["events"]
    cols = ["k", "region", "note"]
    batch = pa.RecordBatch.from_pylist(
        [{"k": i, "region": 1, "note": f"n{i}"} for i in range(10)],
        schema=arrow_schema(part.columns),
    )
    with d.transaction():
        d.execute("DELETE FROM events_1")
        d.begin_load(part, cols)
        d.write_batch(part, cols, batch)
        d.end_load(part, cols)
    assert {t: _indexes(d, t) for t in ("events", "events_1")} == before
    assert d._rows("SELECT count(*) FROM events") == [(10,)]
    d.close()


MARKED = """
CREATE TABLE marked (k int NOT NULL, code text NOT NULL, nick text, tag text,
                     CONSTRAINT marked_pk PRIMARY KEY (k), CONSTRAINT marked_code UNIQUE (code));
COMMENT ON CONSTRAINT marked_code ON marked IS 'kept';
CREATE UNIQUE INDEX marked_ident ON marked (code, k);
ALTER TABLE marked REPLICA IDENTITY USING INDEX marked_ident;
CREATE INDEX marked_nick ON marked (nick);
CLUSTER marked USING marked_nick;
CREATE INDEX marked_tag ON marked (tag);
COMMENT ON INDEX marked_tag IS 'kept';
CREATE INDEX marked_lower ON marked (lower(nick));
ALTER INDEX marked_lower ALTER COLUMN 1 SET STATISTICS 500;
CREATE INDEX marked_plain ON marked (tag, nick);
"""


def test_indexes_carrying_more_than_their_definition_stay_in_place(pg_db):  # type: ignore[no-untyped-def]
    """A comment, the CLUSTER mark, the replica identity or a statistics target would be lost
    by dropping and re-creating the index from its definition: such an index, or the
    constraint owning it, loads in place; the others are deferred as usual."""
    d = get_dialect(pg_db)
    d.execute(MARKED)
    marked = d.describe_table("public", "marked")
    with d.transaction():
        deferred = d._defer_indexes(marked)
        for _, statement in deferred:
            d.execute(statement)
    assert [name for name, _ in deferred] == ["marked_pk", "marked_plain"]
    d.close()


def test_duplicate_found_when_rebuilding_rolls_back_and_keeps_the_index(pg_db):  # type: ignore[no-untyped-def]
    d = get_dialect(pg_db)
    d.execute(DEFERRED)
    people = d.describe_table("public", "people")
    before = _indexes(d, "people")
    rows = [
        {"k": 1, "email": "same.secret@example.org", "nick": "a", "tag": None},
        {"k": 2, "email": "same.secret@example.org", "nick": "b", "tag": None},
    ]
    batch = pa.RecordBatch.from_pylist(rows, schema=arrow_schema(people.columns))
    cols = ["k", "email", "nick", "tag"]
    with pytest.raises(TerminalError) as err:
        with d.transaction():
            d.begin_load(people, cols)
            try:
                d.write_batch(people, cols, batch)
                d.end_load(people, cols)
            except BaseException:
                d.abort_load(people, cols)
                raise
    # The stream accepted the duplicate; building the dropped index afterwards refused it.
    assert "unique index 'people_email_uq' cannot be built" in str(err.value)
    assert "secret" not in str(err.value)
    assert _indexes(d, "people") == before
    assert d._rows("SELECT count(*) FROM people") == [(0,)]
    d.close()


def test_non_empty_table_or_no_transaction_keeps_its_indexes(pg_db):  # type: ignore[no-untyped-def]
    d = get_dialect(pg_db)
    d.execute(DEFERRED)
    people = d.describe_table("public", "people")
    assert d._defer_indexes(people) == []  # outside a transaction nothing is undone
    d.execute("INSERT INTO people VALUES (100, 'old@example.org', 'o', NULL)")
    before = _indexes(d, "people")
    with d.transaction():
        assert d._defer_indexes(people) == []
        assert _indexes(d, "people") == before
    d.close()


def test_a_login_that_does_not_own_the_table_loads_with_its_indexes(pg_db):  # type: ignore[no-untyped-def]
    owner = get_dialect(pg_db)
    owner.execute(DEFERRED)
    role = "maskflow_loader_" + uuid.uuid4().hex[:8]
    owner.execute(f"CREATE ROLE {role} LOGIN")
    try:
        owner.execute(
            f"GRANT USAGE ON SCHEMA public TO {role}; GRANT SELECT, INSERT ON people TO {role}"
        )
        d = get_dialect(dataclasses.replace(pg_db, username=role))
        people = d.describe_table("public", "people")
        cols = ["k", "email", "nick", "tag"]
        batch = pa.RecordBatch.from_pylist(
            [{"k": 1, "email": "a@example.org", "nick": "a", "tag": None}],
            schema=arrow_schema(people.columns),
        )
        with d.transaction():
            assert d._defer_indexes(people) == []
            d.begin_load(people, cols)
            d.write_batch(people, cols, batch)
            d.end_load(people, cols)
        assert d._rows("SELECT count(*) FROM people") == [(1,)]
        d.close()
    finally:
        owner.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")
        owner.close()
