"""SQL Server bulk copy through staging tables: the generated statements (the forms a real SQL
Server runs; the live tests run them on the TDS stand-in), and the load flow against a fake
native-core connection: what goes to the auxiliary session, what to the run's transaction."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masking.dialects import ConnectionParams, get_dialect
from masking.dialects import sqlserver_bulk as bulk
from masking.dialects import sqlserver_clear as clear
from masking.dialects import sqlserver_keys as keys
from masking.dialects import sqlserver_load as load
from masking.errors import MaskingError
from masking.schema import ColumnInfo, TableInfo
from masking.schema import TypeCategory as C
from tests.masking.dialects.sqlserver_fakes import (
    COLS,
    LOADED,
    TABLE,
    FakeCore,
    FakeCursor,
    GatedCore,
    Main,
    batch,
    dialect,
)


def test_stage_names_are_hex_only_and_one_per_column_when_joined():
    assert bulk.stage_names("ab12", None) == ["maskflow_stage_ab12"]
    assert bulk.stage_names("ab12", 2) == ["maskflow_stage_ab12_0", "maskflow_stage_ab12_1"]
    with pytest.raises(ValueError):
        bulk.stage_names("x]; DROP", None)


def test_table_stage_copies_types_without_identity():
    infos = [TABLE.column(c) for c in LOADED]
    sql = bulk.table_stage_create(TABLE, infos, "maskflow_stage_ab")
    source = "[sales].[order lines] AS t WITH (NOLOCK) WHERE 1 = 0"
    items = "t.[id], t.[amount], t.[at], CAST(NULL AS nvarchar(max)) AS [doc]"
    assert sql == (
        f"SELECT {items} INTO [sales].[maskflow_stage_ab] FROM {source} "
        f"UNION ALL SELECT {items} FROM {source}"
    )


def test_column_stages_number_rows_and_hold_any_value_of_the_column():
    sql = bulk.column_stage_create("sales", "maskflow_stage_ab_1", TABLE.column("amount"))
    assert sql == (
        "CREATE TABLE [sales].[maskflow_stage_ab_1] "
        "([rn] bigint IDENTITY(1, 1) NOT NULL, [v] nvarchar(max) NULL)"
    )
    assert bulk.column_stage_type(TABLE.column("at")) == "nvarchar(40)"  # ISO text
    assert bulk.column_stage_type(TABLE.column("id")) == "int"
    t7 = ColumnInfo("t", "time", C.TIME, True)
    assert bulk.column_stage_type(t7) == "time(7)"


def test_a_moved_datetimeoffset_takes_its_rows_offset_where_one_was_staged():
    off = [(1, "maskflow_offset_1")]
    plain = bulk.move_rows(TABLE, ["id", "at"], ["stage"], joined=False, offsets=off)
    assert plain == (
        "INSERT INTO [sales].[order lines] ([id], [at]) SELECT [id], CASE WHEN "
        "[maskflow_offset_1] IS NULL THEN [at] ELSE SWITCHOFFSET([at], [maskflow_offset_1]) END "
        "FROM [sales].[stage]"
    )
    joined = bulk.move_rows(TABLE, ["id", "at"], ["s_0", "s_1", "s_2"], joined=True, offsets=off)
    utc = "TODATETIMEOFFSET(CAST(s1.[v] AS datetime2(7)), 0)"
    assert joined == (
        f"INSERT INTO [sales].[order lines] ([id], [at]) SELECT s0.[v], CASE WHEN s2.[v] IS NULL "
        f"THEN {utc} ELSE SWITCHOFFSET({utc}, s2.[v]) END FROM [sales].[s_0] AS s0 "
        "JOIN [sales].[s_1] AS s1 ON s1.[rn] = s0.[rn] "
        "JOIN [sales].[s_2] AS s2 ON s2.[rn] = s0.[rn]"
    )
    create = bulk.table_stage_create(TABLE, [TABLE.column("at")], "st", ["maskflow_offset_0"])
    assert create.startswith(
        "SELECT t.[at], CAST(NULL AS smallint) AS [maskflow_offset_0] INTO [sales].[st] FROM "
    )


def test_moving_rows_is_one_insert_select_and_joins_column_stages_on_rn():
    plain = bulk.move_rows(TABLE, ["id", "amount"], ["maskflow_stage_ab"], joined=False)
    assert plain == (
        "INSERT INTO [sales].[order lines] ([id], [amount]) "
        "SELECT [id], [amount] FROM [sales].[maskflow_stage_ab]"
    )
    joined = bulk.move_rows(TABLE, ["id", "amount"], ["s_0", "s_1"], joined=True)
    assert joined == (
        "INSERT INTO [sales].[order lines] ([id], [amount]) SELECT s0.[v], s1.[v] "
        "FROM [sales].[s_0] AS s0 JOIN [sales].[s_1] AS s1 ON s1.[rn] = s0.[rn]"
    )
    assert bulk.drop_stage("o'k", "s_0") == (
        "IF OBJECT_ID(N'[o''k].[s_0]', N'U') IS NOT NULL DROP TABLE [o'k].[s_0]"
    )


def test_rows_reach_the_target_only_inside_the_transaction(monkeypatch):
    log = []
    d = dialect(monkeypatch, log, concat_ok=True)
    with d.transaction():
        d.begin_load(TABLE, COLS)
        assert d.write_batch(TABLE, COLS, batch()) == 3
        assert [e for e in log if e[0] == "copy"] == []  # buffered until the flush
        d.end_load(TABLE, COLS)
    assert d.load_path(TABLE) == "bulk copy"
    kinds = [e[0] for e in log]
    copy = kinds.index("copy")
    assert log[copy][2:] == (3, [*LOADED, "maskflow_offset_2"])  # the offsets of "at"
    moves = [i for i, e in enumerate(log) if e[0] == "main" and e[1].startswith("INSERT INTO")]
    assert len(moves) == 1 and moves[0] > copy and log[-1] == ("main", "COMMIT")
    assert any(e[0] == "main" and "DROP TABLE" in e[1] for e in log[moves[0] :])
    assert d._moved == []  # committed: nothing to drop again


def test_a_table_truncated_is_emptied_once_its_staging_is_set_up(monkeypatch):
    """TRUNCATE's schema lock would block the aux session's SELECT ... INTO; clear_table
    leaves it to begin_load, which runs it after the staging and before the keys are
    deferred (which need the table empty)."""
    monkeypatch.setattr(clear, "truncatable", lambda rows, table: True)
    log = []
    d = dialect(monkeypatch, log, concat_ok=True)
    with d.transaction():
        d.clear_table(TABLE)
        assert not any("TRUNCATE" in e[1] or "DELETE" in e[1] for e in log if e[0] == "main")
        d.begin_load(TABLE, COLS)
        d.write_batch(TABLE, COLS, batch())
        d.end_load(TABLE, COLS)
    statements = [e for e in log if e[0] in ("main", "aux")]
    truncate = statements.index(("main", "TRUNCATE TABLE [sales].[order lines]"))
    stage = next(i for i, e in enumerate(statements) if e[0] == "aux" and " INTO " in e[1])
    empty_check = next(i for i, e in enumerate(statements) if "TOP (1) 1 FROM" in e[1])
    assert stage < truncate < empty_check
    assert not any("DELETE" in e[1] for e in statements)


def test_a_server_without_the_concatenation_idiom_gets_one_stage_per_column(monkeypatch):
    log = []
    d = dialect(monkeypatch, log, concat_ok=False)
    with d.transaction():
        d.begin_load(TABLE, COLS)
        d.write_batch(TABLE, COLS, batch())
        d.end_load(TABLE, COLS)
    assert d.load_path(TABLE) == "bulk copy, one staging table per column"
    copies = [e for e in log if e[0] == "copy"]
    assert [c[3] for c in copies] == [["v"]] * (len(LOADED) + 1)  # and the offsets of "at"
    assert sum(1 for e in log if e[0] == "aux" and e[1].startswith("CREATE TABLE")) == 5


@pytest.mark.parametrize(("concat_ok", "sessions"), [(True, 1), (False, 2)])
def test_only_the_column_layout_opens_a_second_session_once_and_close_ends_both(
    monkeypatch, concat_ok, sessions
):
    log, opened = [], []

    def connect(conn_str, timeout):
        opened.append(FakeCore(log, concat_ok=concat_ok))
        return opened[-1]

    monkeypatch.setattr(bulk, "core_connect", connect)
    d = get_dialect(ConnectionParams(dialect="sqlserver", host="h", password="pw"))
    d._conn = Main(log)
    with d.transaction():
        for _ in range(2):  # two loads, the sessions opened once
            d.begin_load(TABLE, COLS)
            d.write_batch(TABLE, COLS, batch())
            d.end_load(TABLE, COLS)
    assert len(opened) == sessions
    assert log.count(("aux", "SET LOCK_TIMEOUT 30000")) == sessions  # set on each session
    d.close()
    assert sum(1 for e in log if e == ("aux", "close")) == sessions


def test_rollback_drops_the_staging_tables_it_brought_back(monkeypatch):
    log = []
    d = dialect(monkeypatch, log, concat_ok=True)
    with pytest.raises(RuntimeError), d.transaction():
        d.begin_load(TABLE, COLS)
        d.write_batch(TABLE, COLS, batch())
        d.end_load(TABLE, COLS)
        raise RuntimeError("a later table failed")
    after = log[log.index(("main", "ROLLBACK")) :]
    assert any("DROP TABLE" in e[1] for e in after if e[0] == "main")


def test_a_failed_load_never_moves_rows_and_drops_the_stage_on_the_aux_session(monkeypatch):
    log = []
    d = dialect(monkeypatch, log, concat_ok=True, fail_copy=RuntimeError("Sql Error: timeout"))
    with pytest.raises(MaskingError) as info, d.transaction():
        d.begin_load(TABLE, COLS)
        d.write_batch(TABLE, COLS, batch())
        d.end_load(TABLE, COLS)
    assert "pw" not in str(info.value)
    assert not any(e[0] == "main" and e[1].startswith("INSERT INTO") for e in log)
    assert any(e[0] == "aux" and "DROP TABLE" in e[1] for e in log)


def test_staging_that_cannot_be_set_up_falls_back_and_says_so(monkeypatch, caplog):
    def refuse(conn_str, timeout):
        raise RuntimeError("Login failed for user 'sa' with password pw")

    monkeypatch.setattr(bulk, "core_connect", refuse)
    d = get_dialect(ConnectionParams(dialect="sqlserver", host="h", password="pw"))
    log = []
    d._conn = Main(log)
    with d.transaction():
        d.begin_load(TABLE, COLS)
        d.write_batch(TABLE, COLS, batch())
        d.end_load(TABLE, COLS)
    assert d.load_path(TABLE).startswith("fast_executemany (bulk copy unavailable")
    assert [e[0] for e in log if e[0].startswith("main-many")] == ["main-many"]
    assert "pw" not in caplog.text and "pw" not in d.load_path(TABLE)


def test_switched_off_bulk_copy_is_a_recorded_fallback(monkeypatch):
    d = get_dialect(ConnectionParams(dialect="sqlserver", host="h", options={"bulk_copy": False}))
    d._conn = Main([])
    d.begin_load(TABLE, ["amount"])
    assert d.load_path(TABLE).startswith("fast_executemany")


def test_column_stages_take_dates_and_instants_as_iso_text_cast_to_date_or_datetime2():
    table = TableInfo(
        "dbo",
        "t",
        tuple(
            ColumnInfo(n, n, C.DATE if n == "date" else C.DATETIME, True, ordinal=i)
            for i, n in enumerate(["date", "datetime", "datetime2", "smalldatetime"], start=1)
        ),
    )
    names = ["date", "datetime", "datetime2", "smalldatetime"]
    sql = bulk.move_rows(table, names, ["s_0", "s_1", "s_2", "s_3"], joined=True)
    # never cast to datetime or smalldatetime, which read 'YYYY-MM-DD' as y-d-m under dmy
    assert "SELECT CAST(s0.[v] AS date), CAST(s1.[v] AS datetime2(7)), " in sql
    assert "CAST(s2.[v] AS datetime2(7)), CAST(s3.[v] AS datetime2(7)) FROM" in sql
    plain = bulk.move_rows(table, names, ["stage"], joined=False)  # the table layout: as is
    assert "SELECT [date], [datetime], [datetime2], [smalldatetime] FROM" in plain
    assert {bulk.column_stage_type(c) for c in table.columns} == {"nvarchar(40)"}


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=dt.datetime(1678, 1, 1), max_value=dt.datetime(2261, 12, 31)),
    st.integers(0, 999),
    st.sampled_from(["s", "ms", "us", "ns"]),
)
def test_iso_text_reads_back_as_the_instant_datetime2_holds(value, nanos, unit):
    micros = pa.array([value], pa.timestamp("us")).cast(pa.int64())[0].as_py()
    ns = pa.array([micros * 1000 + nanos], pa.timestamp("ns"))
    arr = ns.cast(pa.timestamp(unit), safe=False)
    text = bulk.iso_text(arr)[0].as_py()
    day, _, clock = text.partition(" ")
    whole, _, fraction = clock.partition(".")
    assert len(fraction) <= 7  # what CAST(... AS datetime2(7)) accepts
    ticks = int((fraction + "0000000")[:7])  # 100 ns units
    back = dt.datetime.fromisoformat(f"{day} {whole}")
    expected = (
        arr.cast(pa.int64())[0].as_py()
        * {"s": 10**7, "ms": 10**4, "us": 10, "ns": 1}[unit]
        // {"s": 1, "ms": 1, "us": 1, "ns": 100}[unit]
    )
    epoch = dt.datetime(1970, 1, 1)
    got = ((back - epoch) // dt.timedelta(seconds=1)) * 10**7 + ticks
    assert got == expected  # ns: cut to 100 ns, as datetime2(7) holds it
    aware = bulk.iso_text(arr.cast(pa.timestamp(unit, tz="UTC")))
    assert aware[0].as_py() == text  # a UTC instant stages as its naive UTC text


def test_iso_text_keeps_dates_and_nulls():
    dates = pa.array([dt.date(1, 2, 3), None, dt.date(9999, 12, 31)])
    assert bulk.iso_text(dates, "date").to_pylist() == ["0001-02-03", None, "9999-12-31"]
    # an instant bound for a date column keeps its date (style 23 reads no time)
    stamps = pa.array([dt.datetime(2024, 2, 29, 23, 59, 59, 999999), None], pa.timestamp("us"))
    assert bulk.iso_text(stamps, "date").to_pylist() == ["2024-02-29", None]
    assert bulk.iso_text(stamps).to_pylist() == ["2024-02-29 23:59:59.999999", None]


def test_decimals_go_as_text_into_column_stages():
    table = pa.table({"amount": pa.array([Decimal("1.50")], pa.decimal128(10, 2))})
    staged = bulk.stage_batch(table, ["amount"], ["money"])
    assert staged.column(0).cast(pa.string()).to_pylist() == ["1.50"]


def test_bulk_copies_run_on_a_writer_thread_while_rows_keep_coming():
    log, gate = [], threading.Event()
    stage = load.StagedLoad(
        GatedCore(log, gate), TABLE, LOADED, "ab12", joined=False, timeout=5, flush_rows=3
    )
    stage.add(batch(3))  # the first flush: waits at the gate on the writer thread
    stage.add(batch(2))  # returns at once: masking goes on while the copy runs
    assert [e for e in log if e[0] == "copy"] == []
    gate.set()
    stage.finish()
    assert [e for e in log if e[0] == "copy"] == [
        ("copy", "maskflow-bulk", 3),
        ("copy", "maskflow-bulk", 2),
    ]
    assert not any(t.name == "maskflow-bulk" for t in threading.enumerate())


def test_a_failed_bulk_copy_surfaces_at_the_next_flush_and_discard_stops_the_writer():
    log, gate = [], threading.Event()
    gate.set()
    core = GatedCore(log, gate, fail_copy=RuntimeError("Sql Error: conversion failed"))
    stage = load.StagedLoad(core, TABLE, LOADED, "ab12", joined=False, timeout=5, flush_rows=3)
    stage.add(batch(3))
    with pytest.raises(RuntimeError, match="conversion failed"):
        for _ in range(50):  # the failure reaches the caller at its next hand-over
            stage.add(batch(3))
            time.sleep(0.01)
    stage.discard()
    assert not any(t.name == "maskflow-bulk" for t in threading.enumerate())
    assert "DROP TABLE" in [e[1] for e in log if e[0] == "aux"][-1]
    assert [e for e in log if e[0] == "copy"] == []


def test_a_discarded_load_waits_for_the_copy_in_flight_and_drops_the_rest():
    log, gate = [], threading.Event()
    stage = load.StagedLoad(
        GatedCore(log, gate), TABLE, LOADED, "ab12", joined=False, timeout=5, flush_rows=3
    )
    stage.add(batch(3))  # in flight, at the gate
    stage.add(batch(3))  # waiting
    threading.Timer(0.2, gate.set).start()
    stage.discard()
    copies = [e for e in log if e[0] == "copy"]
    assert copies == [("copy", "maskflow-bulk", 3)]  # the waiting flush was dropped
    drops = [i for i, e in enumerate(log) if e[0] == "aux" and "DROP TABLE" in e[1]]
    assert drops and drops[0] > log.index(copies[0])  # dropped after the copy ended


def test_the_table_layout_streams_every_flush_after_the_first_in_one_bulk_copy():
    log, gate = [], threading.Event()
    gate.set()
    stage = load.StagedLoad(
        GatedCore(log, gate), TABLE, LOADED, "ab12", joined=False, timeout=5, flush_rows=3
    )
    for _ in range(4):
        stage.add(batch(3))
    stage.add(batch(1))
    stage.finish()
    assert [e[2] for e in log if e[0] == "copy"] == [3, 10]  # first alone, then one stream


def test_an_arrow_type_refused_at_the_first_flush_sends_every_flush_as_tuples():
    log = []

    class Refusing(FakeCore):
        def cursor(self):
            cur = FakeCursor(self)

            def bulkcopy_arrow(name, data, **kw):
                raise RuntimeError("unsupported arrow type combination")

            def bulkcopy(name, rows, **kw):
                log.append(("tuples", len(list(rows))))

            cur.bulkcopy_arrow, cur.bulkcopy = bulkcopy_arrow, bulkcopy
            return cur

    stage = load.StagedLoad(
        Refusing(log, True), TABLE, LOADED, "ab12", joined=False, timeout=5, flush_rows=3
    )
    for _ in range(3):
        stage.add(batch(3))
    stage.finish()
    assert [e for e in log if e[0] == "tuples"] == [("tuples", 3)] * 3
    assert stage.arrow is False


def test_catalog_reads_the_server_answers_alike_for_every_table_are_made_once(monkeypatch):
    log = []
    d = dialect(monkeypatch, log, concat_ok=True)
    with d.transaction():
        for _ in range(3):  # three tables cleared: TRUNCATE considered for each
            d.clear_table(TABLE)
        for _ in range(2):
            d._rows(keys.CATALOG_OPTIONS)
            d._rows("SELECT 1")
    statements = [e[1] for e in log if e[0] == "main"]
    assert statements.count(clear.CATALOG_OPTIONS) == 1
    assert statements.count(keys.CATALOG_OPTIONS) == 1
    assert statements.count("SELECT 1") == 2  # any other read goes to the server each time
