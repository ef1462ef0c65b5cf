"""SQLite and MariaDB insert each batch in a writer thread while the next is masked: every
batch lands in order, a failure the thread meets surfaces at the caller without values and
rolls back, and an abort leaves the connection usable."""

from __future__ import annotations

import pyarrow as pa
import pytest

from masking.dialects import get_dialect
from masking.dialects.arrowconv import arrow_schema
from masking.errors import TerminalError

pytestmark = pytest.mark.live

DDL = {
    "sqlite": "CREATE TABLE departments (id INTEGER PRIMARY KEY, code CHAR(4) NOT NULL UNIQUE, "
    "name VARCHAR(100) NOT NULL)",
    "mysql": "CREATE TABLE departments (id INT AUTO_INCREMENT PRIMARY KEY, "
    "code CHAR(4) NOT NULL UNIQUE, name VARCHAR(100) NOT NULL) ENGINE=InnoDB",
}
COLS = ["code", "name"]


@pytest.fixture(params=["sqlite", "mariadb"])
def target(request):  # type: ignore[no-untyped-def]
    params = request.getfixturevalue(f"{request.param}_db")
    d = get_dialect(params)
    d.execute(DDL[d.name])
    yield d
    d.close()


def _batch(t, rows):  # type: ignore[no-untyped-def]
    return pa.RecordBatch.from_pylist(rows, schema=arrow_schema([t.column(c) for c in COLS]))


def _codes(d, t):  # type: ignore[no-untyped-def]
    return [r["code"] for b in d.read_batches(t, ["code"], 500) for r in b.to_pylist()]


def _table(d):  # type: ignore[no-untyped-def]
    return d.describe_table(d.capabilities.default_schema or d.params.database, "departments")


def test_end_load_waits_for_every_batch_in_order(target):  # type: ignore[no-untyped-def]
    t = _table(target)
    with target.transaction():
        target.begin_load(t, COLS)
        assert target._writer is not None
        for b in range(40):
            rows = [{"code": f"{b:02d}{i:02d}", "name": f"n{b}.{i}"} for i in range(25)]
            assert target.write_batch(t, COLS, _batch(t, rows)) == 25
        target.end_load(t, COLS)
        assert target._writer is None
        assert target.count_rows(t) == 1000
    # The primary key follows the insert order.
    assert _codes(target, t) == [f"{b:02d}{i:02d}" for b in range(40) for i in range(25)]


def test_a_duplicate_met_by_the_thread_fails_value_free_and_rolls_back(target):  # type: ignore[no-untyped-def]
    t = _table(target)
    target.execute("INSERT INTO departments (code, name) VALUES ('KEEP', 'kept')")
    with pytest.raises(TerminalError) as err, target.transaction():
        target.clear_table(t)
        target.begin_load(t, COLS)
        try:
            for b in range(20):
                rows = [{"code": f"{b:02d}{i:02d}", "name": "n"} for i in range(25)]
                if b == 3:
                    rows[7]["code"] = "0001"  # already loaded by batch 0
                target.write_batch(t, COLS, _batch(t, rows))
            target.end_load(t, COLS)
        except BaseException:
            target.abort_load(t, COLS)
            raise
    assert "departments" in str(err.value)
    assert "0001" not in str(err.value)
    assert _codes(target, t) == ["KEEP"]
    assert target._writer is None


def test_abort_mid_load_leaves_the_connection_usable(target):  # type: ignore[no-untyped-def]
    t = _table(target)
    with pytest.raises(RuntimeError), target.transaction():
        target.begin_load(t, COLS)
        for b in range(5):
            target.write_batch(
                t, COLS, _batch(t, [{"code": f"{b:02d}{i:02d}", "name": "n"} for i in range(25)])
            )
        target.abort_load(t, COLS)
        raise RuntimeError("cancelled")
    assert target.count_rows(t) == 0
    with target.transaction():  # nothing is left holding the connection
        target.write_batch(t, COLS, _batch(t, [{"code": "AFTR", "name": "n"}]))
    assert _codes(target, t) == ["AFTR"]


def test_close_stops_an_open_load(target):  # type: ignore[no-untyped-def]
    t = _table(target)
    target.begin_load(t, COLS)
    target.write_batch(t, COLS, _batch(t, [{"code": "OPEN", "name": "n"}]))
    target.close()
    assert target._writer is None
