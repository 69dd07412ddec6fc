"""ThrottlingProxy, the Parameter Store over its PutParameter quota, in front of a plain HTTP server."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bluegreen_ops.devstack.faults import ThrottlingProxy, TokenBucket

PUT = "AmazonSSM.PutParameter"
GET = "AmazonSSM.GetParameters"


class Upstream(BaseHTTPRequestHandler):
    """Answers every request with the target it was sent for, so forwarding shows in the body."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"served": self.headers.get("X-Amz-Target")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()


def post(conn: http.client.HTTPConnection, target: str, invocation: str) -> tuple[int, dict[str, str]]:
    conn.request(
        "POST", "/", body=b"{}", headers={"X-Amz-Target": target, "amz-sdk-invocation-id": invocation}
    )
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def test_puts_above_the_rate_get_aws_throttling_answer_and_others_pass(upstream_port: int) -> None:
    proxy = ThrottlingProxy(upstream_port, rate=2)
    proxy.bucket = TokenBucket(2, clock=lambda: 0.0)  # a frozen clock: no refill during the test
    conn = http.client.HTTPConnection("127.0.0.1", int(proxy.endpoint.rsplit(":", 1)[1]), timeout=5)
    try:
        assert post(conn, PUT, "call-1") == (200, {"served": PUT})
        assert post(conn, PUT, "call-2") == (200, {"served": PUT})
        assert post(conn, PUT, "call-3") == (
            400,
            {"__type": "ThrottlingException", "message": "Rate exceeded"},
        )
        assert post(conn, PUT, "call-3") == (
            400,
            {"__type": "ThrottlingException", "message": "Rate exceeded"},
        )
        assert post(conn, GET, "call-4") == (200, {"served": GET})  # only PutParameter is limited
    finally:
        conn.close()
        proxy.close()
    assert (proxy.accepted, proxy.throttled) == (2, 2)
    outcomes = sorted((c.throttled, c.succeeded) for c in proxy.calls())
    assert outcomes == [(0, True), (0, True), (2, False)]


def test_without_a_rate_it_only_counts(upstream_port: int) -> None:
    proxy = ThrottlingProxy(upstream_port, rate=None)
    conn = http.client.HTTPConnection("127.0.0.1", int(proxy.endpoint.rsplit(":", 1)[1]), timeout=5)
    try:
        for i in range(5):
            assert post(conn, PUT, f"call-{i}")[0] == 200
    finally:
        conn.close()
        proxy.close()
    assert (proxy.accepted, proxy.throttled) == (5, 0)


def test_the_bucket_refills_at_the_rate_up_to_one_second_of_burst() -> None:
    now = [0.0]
    bucket = TokenBucket(4, clock=lambda: now[0])
    assert [bucket.take() for _ in range(5)] == [True, True, True, True, False]
    now[0] = 0.5
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    now[0] = 100.0
    assert sum(bucket.take() for _ in range(10)) == 4
