"""The SQL Server bulk-copy sessions, logged in ahead on a thread while the run reads
catalogs: what is opened, when, what a failed login does, and that nothing is left open."""

from __future__ import annotations

import threading

import pytest

from masking.dialects import ConnectionParams, get_dialect
from masking.dialects import sqlserver_bulk as bulk
from masking.dialects.sqlserver_sessions import BulkSessions
from masking.errors import MaskingError
from masking.plan import ColumnRule, Plan, TablePlan
from tests.masking.dialects.sqlserver_fakes import COLS, TABLE, FakeCore, Main, batch, wait_for


class Logins:
    """Opens FakeCore sessions, recording the thread each login ran on; `gate` holds logins
    back, `fail` lists the logins (1, 2, ...) that fail."""

    def __init__(self, concat_ok=False, gate=None, fail=()):
        self.log, self.opened, self.threads = [], [], []
        self.concat_ok, self.gate, self.fail = concat_ok, gate, fail

    def __call__(self):
        if self.gate is not None:
            assert self.gate.wait(5)
        self.threads.append(threading.current_thread().name)
        if len(self.threads) in self.fail:
            raise ConnectionError("login failed for user 'secret-login'")
        self.opened.append(FakeCore(self.log, concat_ok=self.concat_ok))
        return self.opened[-1]

    def closed(self):
        return sum(1 for e in self.log if e == ("aux", "close"))


def test_both_column_layout_sessions_log_in_ahead_on_a_thread_of_their_own():
    logins = Logins(concat_ok=False)
    sessions = BulkSessions(logins)
    sessions.open_ahead()
    wait_for(lambda: len(logins.opened) == 2)  # without being asked for
    assert logins.threads == ["maskflow-login", "maskflow-login"]
    assert sessions.first() is logins.opened[0]
    assert sessions.joined is True
    assert sessions.second() is logins.opened[1]
    sessions.open_ahead()  # once open, not again
    assert sessions.first() is logins.opened[0] and len(logins.opened) == 2
    sessions.close()
    assert logins.closed() == 2


def test_a_server_that_takes_every_column_gets_one_session_ahead():
    logins = Logins(concat_ok=True)
    sessions = BulkSessions(logins)
    sessions.open_ahead()
    assert sessions.first() is logins.opened[0]
    assert sessions.joined is False
    assert len(logins.opened) == 1


def test_the_first_session_is_waited_for_when_asked_for_before_its_login_ends():
    gate = threading.Event()
    logins = Logins(concat_ok=True, gate=gate)
    sessions = BulkSessions(logins)
    sessions.open_ahead()
    threading.Timer(0.1, gate.set).start()
    assert sessions.first() is logins.opened[0]


def test_without_opening_ahead_the_first_session_opens_when_asked_for():
    logins = Logins(concat_ok=True)
    sessions = BulkSessions(logins)
    assert logins.opened == []
    assert sessions.first() is logins.opened[0]
    assert logins.threads == [threading.current_thread().name]


def test_a_first_login_that_failed_ahead_is_raised_when_asked_for_and_tried_again_later():
    logins = Logins(fail=(1,))
    sessions = BulkSessions(logins)
    sessions.open_ahead()
    with pytest.raises(ConnectionError, match="login failed"):
        sessions.first()
    assert sessions.first() is logins.opened[0]  # the next table's load tries again
    assert logins.threads[-1] == threading.current_thread().name


def test_a_second_login_that_failed_ahead_is_raised_once_by_second():
    logins = Logins(concat_ok=False, fail=(2,))
    sessions = BulkSessions(logins)
    sessions.open_ahead()
    first = sessions.first()
    with pytest.raises(ConnectionError, match="login failed"):
        sessions.second()
    assert sessions.first() is first
    assert sessions.second() is logins.opened[1]  # asked again: opened now


def test_sessions_still_logging_in_at_close_are_closed_once_they_are_open():
    gate = threading.Event()
    logins = Logins(concat_ok=False, gate=gate)
    sessions = BulkSessions(logins)
    sessions.open_ahead()
    sessions.close()  # returns without waiting for the logins
    assert logins.opened == []
    gate.set()
    wait_for(lambda: logins.closed() == 2)


def dialect(monkeypatch, logins, **options):
    monkeypatch.setattr(bulk, "core_connect", lambda conn_str, timeout: logins())
    params = ConnectionParams(dialect="sqlserver", host="h", password="pw", options=options)
    d = get_dialect(params)
    d._conn = Main(logins.log)
    return d


def test_a_dialect_prepared_to_load_copies_through_the_sessions_it_opened_ahead(monkeypatch):
    logins = Logins(concat_ok=False)
    d = dialect(monkeypatch, logins)
    d.prepare_load()
    wait_for(lambda: len(logins.opened) == 2)
    with d.transaction():
        d.begin_load(TABLE, COLS)
        d.write_batch(TABLE, COLS, batch())
        d.end_load(TABLE, COLS)
    assert len(logins.opened) == 2  # no other login
    assert {e[0] for e in logins.log} >= {"copy"}
    d.close()
    assert logins.closed() == 2


def test_a_dialect_with_bulk_copy_switched_off_opens_nothing_ahead(monkeypatch):
    logins = Logins()
    d = dialect(monkeypatch, logins, bulk_copy=False)
    d.prepare_load()
    assert not any(t.name == "maskflow-login" for t in threading.enumerate())
    assert logins.threads == []


def test_a_run_prepares_its_target_before_its_checks_read_the_catalogs(tmp_path):
    import sqlite3

    from masking import run
    from masking.dialects import get_dialect as dialect_for

    db = tmp_path / "t.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    src = dialect_for(ConnectionParams(dialect="sqlite", database=str(db)))
    calls = []

    class Target(type(src)):
        def prepare_load(self):
            calls.append("prepare_load")

        def describe_table(self, schema, table):
            calls.append("describe_table")
            return super().describe_table(schema, table)

    tgt = Target(ConnectionParams(dialect="sqlite", database=str(tmp_path / "missing.db")))
    plan = Plan(
        tables=(TablePlan("", "t", "", "nope", (ColumnRule("id", "id", "keep"),)),),
        secret=b"s" * 32,
    )
    with pytest.raises(MaskingError):  # the target table is missing: the checks fail
        run(plan, src, tgt)
    assert calls and calls[0] == "prepare_load"
