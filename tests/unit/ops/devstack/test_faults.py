"""StallingProxy, the hung Parameter Store of bench/ and tests/, in front of a plain echo server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from bluegreen_ops.devstack.faults import StallingProxy


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A loopback server that sends back whatever each connection sends it."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(1024):
                conn.sendall(data)

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def connect(proxy: StallingProxy) -> socket.socket:
    port = int(proxy.endpoint.rsplit(":", 1)[1])
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    return conn


def test_it_forwards_until_stalled_then_serves_only_new_connections(echo_port):
    proxy = StallingProxy(echo_port)
    try:
        before = connect(proxy)
        before.sendall(b"ping")
        assert before.recv(4) == b"ping"
        proxy.stall_all()
        hung = connect(proxy)
        hung.settimeout(0.5)
        hung.sendall(b"lost")
        with pytest.raises(TimeoutError):
            hung.recv(4)  # accepted, never answered: a client waits for its own read timeout
        before.settimeout(0.5)
        before.sendall(b"also lost")
        with pytest.raises(TimeoutError):
            before.recv(9)  # an open connection stalls too
        proxy.serve_new()
        after = connect(proxy)
        after.sendall(b"back")
        assert after.recv(4) == b"back"
        with pytest.raises(TimeoutError):
            hung.recv(4)  # the stalled ones stay stalled
        for conn in (before, hung, after):
            conn.close()
    finally:
        proxy.close()
