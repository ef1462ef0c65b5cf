"""A fake PostgreSQL server on 127.0.0.1 that asks every client for a clear-text password and
records what it receives: a stand-in for a host an attacker controls."""

from __future__ import annotations

import socket
import struct
import threading

SSL_REQUEST = 80877103
GSS_REQUEST = 80877104


class FakePostgres:
    def __init__(self) -> None:
        self.passwords: list[str] = []
        self.connections = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-postgres", daemon=True)

    def __enter__(self) -> FakePostgres:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(5)
                try:
                    self._session(conn)
                except (OSError, struct.error):
                    pass

    @staticmethod
    def _read(conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise OSError("closed")
            data += chunk
        return data

    def _session(self, conn: socket.socket) -> None:
        while True:  # SSL and GSS encryption requests are declined until the startup message
            length, code = struct.unpack("!ii", self._read(conn, 8))
            self._read(conn, length - 8)
            if code not in (SSL_REQUEST, GSS_REQUEST):
                break
            conn.sendall(b"N")
        conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
        kind = self._read(conn, 1)
        length = struct.unpack("!i", self._read(conn, 4))[0]
        payload = self._read(conn, length - 4)
        if kind == b"p":
            self.passwords.append(payload.rstrip(b"\x00").decode("utf-8", "replace"))
        fields = b"SFATAL\x00VFATAL\x00C28P01\x00Mpassword authentication failed\x00\x00"
        conn.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)
