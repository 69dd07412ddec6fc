"""Faults of the outside world that the benchmarks and the tests both provoke.

:class:`StallingProxy` stands in front of moto's server and can stop answering, like a hung
Parameter Store: the layer's bounded waits are measured against it (bench/) and checked (tests/).
:class:`ThrottlingProxy` stands in front of moto's Parameter Store and refuses PutParameter above a
rate, as Parameter Store's throughput quota does: bench/fleet measures many rotations against it.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


# What Parameter Store answers a request over its throughput quota (AWS JSON 1.1 protocol).
THROTTLE_STATUS = 400
THROTTLE_BODY = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te"}
_REPLACED = _HOP_BY_HOP | {"content-length", "server", "date"}  # the proxy writes its own


class TokenBucket:
    """``rate`` requests per second on average, at most ``rate`` at once after a quiet second."""

    def __init__(self, rate: float, clock: Any = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._clock = clock
        self._tokens = rate
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.rate, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


@dataclass
class CallOutcome:
    """One SDK call of the throttled operation: its throttled attempts, and whether one got through."""

    throttled: int = 0
    succeeded: bool = False


class ThrottlingProxy:
    """An HTTP proxy in front of moto's server that throttles one SSM operation above a rate.

    Point only Parameter Store at it (``AWS_ENDPOINT_URL_SSM=proxy.endpoint``). Requests for
    ``operation`` (``X-Amz-Target: AmazonSSM.<operation>``) beyond ``rate`` per second get what AWS
    sends over the quota: HTTP 400 with ``{"__type": "ThrottlingException", "message": "Rate
    exceeded"}``; every other request, and the ones within the rate, are forwarded unchanged.
    ``accepted`` and ``throttled`` count the operation's requests of each kind; :meth:`calls` tells,
    per SDK call (botocore's ``amz-sdk-invocation-id``, the same on every retry of one call), how
    many of its attempts were throttled and whether one got through.

    ``rate=None`` throttles nothing and only counts: the unthrottled baseline of the same run.
    """

    def __init__(self, target_port: int, *, rate: float | None, operation: str = "PutParameter") -> None:
        self.target_port = target_port
        self.target = f"AmazonSSM.{operation}"
        self.bucket = TokenBucket(rate) if rate is not None else None
        self.accepted = 0
        self.throttled = 0
        self._calls: dict[str, CallOutcome] = {}
        self._count_lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def limit(self, rate: float | None) -> None:
        """From now on, ``rate`` requests per second (None: no limit); the counts start again."""
        with self._count_lock:
            self.bucket = TokenBucket(rate) if rate is not None else None
            self.accepted = self.throttled = 0
            self._calls = {}

    def admit(self, target: str | None, invocation: str | None = None) -> bool:
        """Whether a request goes through; counts the throttled operation's requests and calls."""
        if target != self.target:
            return True
        with self._count_lock:
            bucket = self.bucket
        admitted = bucket.take() if bucket is not None else True
        with self._count_lock:
            call = self._calls.setdefault(invocation or str(uuid.uuid4()), CallOutcome())
            if admitted:
                self.accepted += 1
                call.succeeded = True
            else:
                self.throttled += 1
                call.throttled += 1
        return admitted

    def calls(self) -> list[CallOutcome]:
        with self._count_lock:
            return [CallOutcome(c.throttled, c.succeeded) for c in self._calls.values()]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _handler_for(proxy: ThrottlingProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pooled connections expect
        upstream: http.client.HTTPConnection | None = None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not proxy.admit(self.headers.get("X-Amz-Target"), self.headers.get("amz-sdk-invocation-id")):
                self._reply(THROTTLE_STATUS, [("Content-Type", "application/x-amz-json-1.1")], THROTTLE_BODY)
                return
            if self.upstream is None:
                self.upstream = http.client.HTTPConnection("127.0.0.1", proxy.target_port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            self.upstream.request(self.command, self.path, body=body, headers=headers)
            response = self.upstream.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _REPLACED]
            self._reply(response.status, kept, data)

        do_GET = do_POST  # noqa: N815 - moto's reset and health endpoints

        def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            if not any(k.lower() == "x-amzn-requestid" for k, _ in headers):
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def finish(self) -> None:
            super().finish()
            if self.upstream is not None:
                self.upstream.close()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the benchmark reports counts; a line per request would drown them

    return Handler
