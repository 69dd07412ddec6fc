"""Faults of the outside world that the benchmarks and the tests both provoke.

:class:`StallingProxy` stands in front of moto's server and can stop answering, like a hung
Parameter Store: the layer's bounded waits are measured against it (bench/) and checked (tests/).
"""

from __future__ import annotations

import socket
import threading
from typing import Any


class StallingProxy:
    """A TCP proxy in front of moto's server that can stop answering, like a hung Parameter Store.

    ``stall_all()`` makes every connection, open or new, swallow every request (the endpoint accepts
    bytes and never replies); ``serve_new()`` then serves new connections again while the stalled
    ones stay stalled. The sockets stay open, so a client waits for its read timeout, as against a real hang.
    """

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._pipes: list[dict[str, Any]] = []
        self._stall_new = False
        self._lock = threading.Lock()
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def stall_all(self) -> None:
        with self._lock:
            self._stall_new = True
            for pipe in self._pipes:
                pipe["stalled"] = True

    def serve_new(self) -> None:
        with self._lock:
            self._stall_new = False

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                continue
            with self._lock:
                pipe: dict[str, Any] = {"stalled": self._stall_new, "client": client, "upstream": None}
                self._pipes.append(pipe)
            if not pipe["stalled"]:
                pipe["upstream"] = socket.create_connection(self._target)
                threading.Thread(target=self._pump, args=(pipe, client, "upstream"), daemon=True).start()
                threading.Thread(target=self._pump, args=(pipe, pipe["upstream"], None), daemon=True).start()

    def _pump(self, pipe: dict[str, Any], source: socket.socket, to: str | None) -> None:
        dest = pipe[to] if to else pipe["client"]
        try:
            while not self._stop.is_set():
                data = source.recv(65536)
                if not data:
                    break
                if to and pipe["stalled"]:
                    continue  # a request into the void: never forwarded, never answered
                dest.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        self._stop.set()
        self._accepter.join()
        for pipe in self._pipes:
            for key in ("client", "upstream"):
                if pipe[key] is not None:
                    pipe[key].close()
        self._server.close()
