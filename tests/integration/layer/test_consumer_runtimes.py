"""The consumer in real server runtimes: forked workers, a hung Parameter Store, access-denied storms.

Real parts only: moto's server (keep-alive HTTP/1.1, as werkzeug's threaded server speaks it) behind a
TCP proxy that can stop answering (``stalling_proxy``), real MariaDB, real rotations, ``os.fork``.
"""

from __future__ import annotations

import json
import os
import select
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import pymysql
import pytest
from botocore.config import Config

from bluegreen_db.consumer import BlueGreenConsumer
from bluegreen_db.dburl import parse_url
from bluegreen_db.errors import RefreshTimeoutError

FORK_RUNS = int(os.environ.get("BLUEGREEN_FORK_RUNS", "20"))


def in_children(
    count: int, work: Callable[[int], dict[str, Any]], timeout: float = 60
) -> list[dict[str, Any]]:
    """Forks ``count`` children running ``work(i)``; returns each one's result (or how it failed)."""
    children = []
    for i in range(count):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report, then leave without running the parent's cleanup
            os.close(read_fd)
            try:
                result = work(i)
            except BaseException as exc:
                result = {"error": f"{type(exc).__name__}: {exc}"}
            os.write(write_fd, json.dumps(result).encode())
            os._exit(0)
        os.close(write_fd)
        children.append((pid, read_fd))
    results = []
    deadline = time.monotonic() + timeout
    for pid, read_fd in children:
        chunks = []
        while True:
            ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, 9)
                chunks = [json.dumps({"error": "timed out (hung)"}).encode()]
                break
            data = os.read(read_fd, 65536)
            if not data:
                break
            chunks.append(data)
        os.close(read_fd)
        os.waitpid(pid, 0)
        results.append(json.loads(b"".join(chunks) or b'{"error": "no result"}'))
    return results


def _check(snap: Any, color: str) -> str | None:
    if snap.color != color:
        return f"flag {snap.color}, expected {color}"
    for role in ("writer", "reader"):
        snap.url(role)  # raises ParameterMissingError if a URL was lost
    return None


# -- fork ------------------------------------------------------------------------------------------


def test_fork_while_another_thread_refreshes_the_child_gets_a_snapshot(layer_stack, rotator, stalling_proxy):
    stack = layer_stack
    flag = rotator.rotate()
    # The caller's own client: one attempt, a 30 s read timeout, through the proxy.
    client = boto3.client(
        "ssm",
        endpoint_url=stalling_proxy.endpoint,
        config=Config(read_timeout=30, retries={"mode": "standard", "total_max_attempts": 1}),
    )
    consumer = BlueGreenConsumer(stack.prefix, ttl=0.5, client=client, refresh_timeout=20)
    first = consumer.current()
    time.sleep(0.6)  # expired
    stalling_proxy.stall_all()
    refresher = threading.Thread(target=consumer.current, daemon=True)
    refresher.start()
    time.sleep(0.3)  # the refresher is now waiting on its hung GetParameters
    assert refresher.is_alive()
    stalling_proxy.serve_new()  # the parent's call stays hung; a new connection would be served

    def child(_: int) -> dict[str, Any]:
        started = time.monotonic()
        snap = consumer.current()
        return {
            "seconds": time.monotonic() - started,
            "generation": snap.generation,
            "color": snap.color,
            "own_client": consumer.client is not client,
        }

    (result,) = in_children(1, child, timeout=15)
    assert "error" not in result, result
    assert result["own_client"], "the child must not share the parent's client (and its sockets)"
    assert result["generation"] > first.generation, "the child fetched its own fresh snapshot"
    assert result["color"] == flag
    assert result["seconds"] < 10  # bounded; the old code hung here on the lock the refresher held


@pytest.mark.slow
def test_forked_children_refresh_through_a_keep_alive_endpoint_without_false_errors(layer_stack, rotator):
    """The issue's shape: consumers built on one caller's client, already connected (moto's server
    keeps the connection alive), then forked. Each child reads its own prefix: had the children kept
    the parent's socket, a reply meant for one child would reach another, and the flag it looks for
    would be "missing" (the false ParameterMissingError of the issue)."""
    stack = layer_stack
    flag = rotator.rotate()
    names = [f"{stack.prefix}/blue-green-env"] + [
        f"{stack.prefix}/{c}/{r}-db-url" for c in ("blue", "green") for r in ("writer", "reader")
    ]
    params = stack.ssm.get_parameters(Names=names, WithDecryption=True)["Parameters"]
    client = boto3.client("ssm")
    consumers = []
    for i in range(4):
        prefix = f"{stack.prefix}/child{i}"
        for p in params:
            stack.ssm.put_parameter(
                Name=prefix + p["Name"][len(stack.prefix) :], Value=p["Value"], Type=p["Type"], Overwrite=True
            )
        consumers.append(BlueGreenConsumer(prefix, ttl=0.01, client=client))
        consumers[-1].current()
    pool = client._endpoint.http_session._manager.connection_from_url(client.meta.endpoint_url)
    assert pool.num_connections == 1, "one kept-alive connection, open at fork time"

    def child(i: int) -> dict[str, Any]:
        errors = []
        for _ in range(40):
            try:
                problem = _check(consumers[i].refresh(), flag)
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if problem:
                errors.append(problem)
        if consumers[i].client is client:
            errors.append("the child used the parent's client")
        return {"errors": errors}

    started = time.monotonic()
    failed_runs = []
    for run in range(FORK_RUNS):
        results = in_children(4, child)
        bad = [r for r in results if r.get("error") or r.get("errors")]
        if bad:
            failed_runs.append((run, bad[:2]))
        for consumer in consumers:  # the parent's own connection still answers right
            assert _check(consumer.refresh(), flag) is None
    elapsed = time.monotonic() - started
    print(f"{FORK_RUNS} runs x 4 children x 40 refreshes in {elapsed:.1f} s")
    assert failed_runs == []


def test_a_forked_child_restarts_the_drain_thread_and_uses_its_own_pool(layer_stack, rotator):
    from sqlalchemy import text

    from bluegreen_db.sqlalchemy_engine import create_engine

    stack = layer_stack
    rotator.rotate()
    consumer = BlueGreenConsumer(stack.prefix, ttl=1)
    engine = create_engine("writer", consumer=consumer, pool_size=2, drain_interval=0.2)
    with engine.connect() as conn:
        parent_user = conn.scalar(text("SELECT CURRENT_USER()"))

    def child(_: int) -> dict[str, Any]:
        drainers = [t.name for t in threading.enumerate() if t.name.startswith("bluegreen-drain")]
        with engine.connect() as conn:
            user = conn.scalar(text("SELECT CURRENT_USER()"))
        return {"drainers": drainers, "user": user, "pool_checked_in": engine.pool.checkedin()}

    (result,) = in_children(1, child, timeout=20)
    assert "error" not in result, result
    assert result["drainers"], "the drain thread must run in the child too"
    assert result["user"] == parent_user
    engine.dispose()


# -- a hung Parameter Store ------------------------------------------------------------------------


def _timed_callers(consumer: BlueGreenConsumer, n: int) -> list[tuple[float, Any]]:
    barrier = threading.Barrier(n)
    out: list[tuple[float, Any]] = []
    lock = threading.Lock()

    def call() -> None:
        barrier.wait()
        started = time.monotonic()
        try:
            result: Any = consumer.current()
        except Exception as exc:
            result = exc
        with lock:
            out.append((time.monotonic() - started, result))

    threads = [threading.Thread(target=call) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return sorted(out, key=lambda r: r[0])


def test_a_hung_parameter_store_bounds_every_wait(layer_stack, rotator, stalling_proxy):
    stack = layer_stack
    rotator.rotate()
    refresh_timeout = 1.0
    client = boto3.client("ssm", endpoint_url=stalling_proxy.endpoint)  # botocore's own timeouts: 60 s
    consumer = BlueGreenConsumer(stack.prefix, ttl=1, client=client, refresh_timeout=refresh_timeout)
    first = consumer.current()
    time.sleep(1.1)  # expired, less than two TTLs old
    stalling_proxy.stall_all()

    wave = _timed_callers(consumer, 8)
    assert all(result is first for _, result in wave), "every caller gets the usable stale snapshot"
    waits = [seconds for seconds, _ in wave]
    assert waits[-1] < refresh_timeout + 0.5, "the refresher waits no longer than the refresh timeout"
    assert waits[-2] < 0.25, "callers other than the refresher do not wait for it"

    time.sleep(1.3)  # now older than two TTLs, the hung call still outstanding: nobody waits at all
    second = _timed_callers(consumer, 8)
    assert all(result is first for _, result in second)
    assert second[-1][0] < 0.25
    assert consumer.parameter_calls == 2, "one refresh in flight at a time, not one per caller"

    # Nothing to fall back on: the caller learns within the refresh timeout, with a typed error.
    cold = BlueGreenConsumer(stack.prefix, client=client, refresh_timeout=refresh_timeout)
    started = time.monotonic()
    with pytest.raises(RefreshTimeoutError, match="refresh timeout"):
        cold.current()
    assert time.monotonic() - started < refresh_timeout + 0.5


# -- access denied -----------------------------------------------------------------------------------


def test_twenty_access_denied_connects_make_at_most_three_get_parameters(
    layer_stack, rotator, count_ssm_calls
):
    stack = layer_stack
    flag = rotator.rotate()
    name = f"{stack.prefix}/{flag}/writer-db-url"
    good = parse_url(stack.ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
    wrong = good.__class__(**{**good.__dict__, "password": "not-the-password-1"}).render()
    stack.ssm.put_parameter(Name=name, Value=wrong, Type="SecureString", Overwrite=True)

    consumer = BlueGreenConsumer(stack.prefix, ttl=3600)
    calls = count_ssm_calls(consumer.client)
    denied = 0
    for _ in range(10):  # ten in a row...
        with pytest.raises(pymysql.err.OperationalError) as err:
            consumer.connect()
        denied += err.value.args[0] == 1045

    def storm() -> None:  # ...and ten at once
        nonlocal denied
        try:
            consumer.connect()
        except pymysql.err.OperationalError as exc:
            denied += exc.args[0] == 1045

    threads = [threading.Thread(target=storm) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert denied == 20
    assert calls["GetParameters"] <= 3
    print(f"20 access-denied connects: {calls['GetParameters']} GetParameters calls")


# -- Parameter Store errors through botocore's real parsing and retries -----------------------------


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def _answer_every_call_with(code: str, message: str, sent: list[str]) -> Callable[..., Any]:
    """A ``before-send`` hook: each GetParameters attempt gets this AWS error instead of moto's answer
    (below botocore's retry loop, so retryable codes are retried as against the real service)."""
    from botocore.awsrequest import AWSResponse

    def hook(request: Any, **_: Any) -> Any:
        sent.append(code)
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = {"x-amzn-RequestId": "injected", "Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, 400, headers, _Raw(body))

    return hook


@pytest.mark.parametrize(
    ("code", "message", "error", "attempts"),
    [
        ("AccessDeniedException", "not authorized to perform: ssm:GetParameters", "AccessDenied", 1),
        ("AccessDeniedException", "not authorized to perform: kms:Decrypt", "Decrypt", 1),
        ("InvalidKeyId", "The query key ID isn't valid.", "Decrypt", 1),
        ("ThrottlingException", "Rate exceeded", "Throttled", 2),
    ],
)
def test_parameter_store_errors_surface_typed_after_botocores_retries(
    moto_server, code, message, error, attempts
):
    from bluegreen_db import errors

    consumer = BlueGreenConsumer(
        "/db/errors", max_attempts=2, environ={**os.environ, "AWS_RETRY_MODE": "standard"}
    )
    sent: list[str] = []
    consumer.client.meta.events.register(
        "before-send.ssm.GetParameters", _answer_every_call_with(code, message, sent)
    )
    with pytest.raises(getattr(errors, f"ParameterStore{error}Error")) as err:
        consumer.current()
    assert err.value.code == code
    assert len(sent) == attempts  # throttling was retried by botocore; a denial was not
