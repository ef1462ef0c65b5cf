"""The load writer thread: order, bounded queue, failures surfacing at the caller, abort."""

from __future__ import annotations

import threading
import time

import pytest

from masking.dialects.background import BackgroundWriter
from masking.errors import TerminalError


def test_batches_are_sent_in_order_and_finish_waits_for_all() -> None:
    sent: list[int] = []

    def send(item: int) -> None:
        time.sleep(0.001)
        sent.append(item)

    w = BackgroundWriter(send, label="table 't'")
    for i in range(50):
        w.write(i)
    w.finish()
    assert sent == list(range(50))


def test_at_most_depth_batches_wait_while_one_is_being_sent() -> None:
    release = threading.Event()
    started = threading.Event()

    def send(item: int) -> None:
        started.set()
        release.wait(5)

    w = BackgroundWriter(send, label="table 't'", depth=2)
    w.write(0)
    started.wait(5)
    w.write(1)
    w.write(2)  # two waiting now
    blocked = threading.Thread(target=w.write, args=(3,))
    blocked.start()
    blocked.join(0.3)
    assert blocked.is_alive()  # the third waiting batch has no room yet
    release.set()
    blocked.join(5)
    assert not blocked.is_alive()
    w.finish()


class Boom(Exception):
    pass


def test_a_failure_surfaces_wrapped_at_a_later_write_or_at_finish() -> None:
    def send(item: int) -> None:
        if item == 3:
            raise Boom("duplicate key")

    w = BackgroundWriter(
        send, label="table 't'", wrap=lambda exc: TerminalError(f"wrapped {type(exc).__name__}")
    )
    with pytest.raises(TerminalError, match="wrapped Boom") as err:
        for i in range(100):
            w.write(i)
            time.sleep(0.002)
        w.finish()
    assert isinstance(err.value.__cause__, Boom)
    # Nothing more is accepted once the thread has failed.
    with pytest.raises(TerminalError, match="wrapped Boom"):
        w.write(200)
    with pytest.raises(TerminalError, match="wrapped Boom"):
        w.finish()


def test_abort_drops_what_waits_and_never_raises() -> None:
    sent: list[int] = []
    gate = threading.Event()

    def send(item: int) -> None:
        gate.wait(5)
        sent.append(item)

    started = threading.Event()

    def first(item: int) -> None:
        started.set()
        send(item)

    w = BackgroundWriter(first, label="table 't'", depth=2)
    w.write(0)
    started.wait(5)
    w.write(1)
    w.write(2)
    threading.Timer(0.2, gate.set).start()
    w.abort()  # waits for batch 0, which is already being sent; 1 and 2 are dropped
    assert sent == [0]
    w.abort()  # twice is harmless
    with pytest.raises(TerminalError, match="table 't': the load stream stopped"):
        w.write(9)


def test_abort_after_a_failure_is_quiet() -> None:
    def send(item: int) -> None:
        raise Boom("x")

    w = BackgroundWriter(send, label="table 't'")
    w.write(1)
    time.sleep(0.05)
    w.abort()


def test_an_engine_error_surfaces_as_itself() -> None:
    failure = TerminalError("table 't': UNIQUE constraint failed: t.code")

    def send(item: int) -> None:
        raise failure

    w = BackgroundWriter(send, label="table 't'")
    w.write(1)
    with pytest.raises(TerminalError) as err:
        w.finish()
    assert err.value is failure and err.value.__cause__ is None
