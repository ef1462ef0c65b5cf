"""A connection test is no port scanner or banner reader: whatever a server sends back never
reaches the message, and a test holds a web thread for at most the web timeout."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from masking.dberrors import CONNECTION_TEXT

pytestmark = pytest.mark.django_db

BANNER = b"SSH-2.0-OpenSSH_9.9 banner-sekret-42\r\nH"


class TalkingServer:
    """Accepts connections on 127.0.0.1 and sends a banner (or nothing) to each."""

    def __init__(self, banner: bytes, hold: float = 0.5):
        self.banner, self.hold = banner, hold
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()

    def serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self.talk, args=(conn,), daemon=True).start()

    def talk(self, conn):
        with conn:
            try:
                if self.banner:
                    conn.sendall(self.banner)
                self.stop.wait(self.hold)
            except OSError:
                pass


def body(dialect, port, **options):
    return {
        "name": "probe",
        "dialect": dialect,
        "host": "127.0.0.1",
        "port": port,
        "database": "postgres",
        "username": "probe",
        "password": "Probe-pass-1234",
        "options": options,
    }


DIALECTS = ["postgresql", "mysql", "sqlserver"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_bytes_from_an_unexpected_server_are_not_repeated(api, owner, dialect):
    with TalkingServer(BANNER) as server:
        response = api(owner).post(
            "/api/connections/test", body(dialect, server.port, timeout=3), format="json"
        )
    data = response.json()["data"]
    assert data["ok"] is False
    for piece in ("sekret", "SSH", "OpenSSH", "negotiation: H"):
        assert piece not in response.content.decode()
    assert data["message"] in {f"connection failed: {t}" for t in CONNECTION_TEXT.values()}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_closed_port_reads_like_any_unreachable_server(api, owner, dialect):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    data = (
        api(owner)
        .post("/api/connections/test", body(dialect, port, timeout=3), format="json")
        .json()["data"]
    )
    assert data["category"] == "unreachable"
    assert data["message"] == "connection failed: the server could not be reached"


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_a_silent_server_holds_a_web_thread_no_longer_than_the_web_timeout(
    api, owner, settings, dialect
):
    settings.CONNECTION_WEB_TIMEOUT = 2
    with TalkingServer(b"", hold=60) as server:
        started = time.monotonic()
        response = api(owner).post(
            "/api/connections/test", body(dialect, server.port, timeout=300), format="json"
        )
        elapsed = time.monotonic() - started
    assert response.json()["data"]["ok"] is False
    assert elapsed < 10, f"the test waited {elapsed:.1f} s with a 2 s web timeout"
