"""The consumer in real server runtimes: forked workers, a hung Parameter Store, access-denied storms.

Real parts only: moto's server (keep-alive HTTP/1.1, as werkzeug's threaded server speaks it), real
MariaDB, real rotations, ``os.fork``; the bodies every engine shares run on PostgreSQL 15 too (``rig``). A hung Parameter Store is a GetParameters held on an Event by a
botocore ``before-send`` hook (``hold_get_parameters``); let go, the call goes on to moto. Who waits
behind it is proved by ordering: a caller that returns while the call is still held did not wait.
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
import pytest
from botocore.config import Config

from bluegreen_db.consumer import BlueGreenConsumer
from bluegreen_db.dburl import parse_url
from bluegreen_db.drivers import driver_for
from bluegreen_db.errors import RefreshTimeoutError
from tests.integration.layer.held_calls import HOLD_LIMIT, HeldGetParameters

FORK_RUNS = int(os.environ.get("BLUEGREEN_FORK_RUNS", "20"))


class Clock:
    """The consumers' clock, moved by hand: a snapshot expires when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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


def test_fork_while_another_thread_refreshes_the_child_gets_its_own_snapshot(
    layer_stack, rotator, hold_get_parameters
):
    stack = layer_stack
    flag = rotator.rotate()
    # The caller's own client, with one attempt; its GetParameters can be held.
    client = boto3.client("ssm", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    held: HeldGetParameters = hold_get_parameters(client)
    clock = Clock()
    consumer = BlueGreenConsumer(
        stack.prefix, ttl=60, client=client, refresh_timeout=2 * HOLD_LIMIT, clock=clock
    )
    first = consumer.current()
    held.hold()
    clock.now += 61  # expired, less than two TTLs old
    refresher = threading.Thread(target=consumer.current, daemon=True)
    refresher.start()
    assert held.entered.wait(HOLD_LIMIT)  # the refresher's GetParameters is under way, and held

    def child(_: int) -> dict[str, Any]:
        snap = consumer.current()
        return {
            "generation": snap.generation,
            "color": snap.color,
            "own_client": consumer.client is not client,
        }

    (result,) = in_children(1, child, timeout=HOLD_LIMIT)
    assert "error" not in result, result
    assert result["own_client"], "the child must not share the parent's client (and its sockets)"
    assert result["generation"] > first.generation, "the child fetched its own fresh snapshot"
    assert result["color"] == flag
    assert held.held and refresher.is_alive(), "the child got it while the parent's call was held"
    held.release()
    refresher.join(HOLD_LIMIT)
    assert consumer.current().generation == first.generation + 1


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

    failed_runs = []
    for run in range(FORK_RUNS):
        results = in_children(4, child)
        bad = [r for r in results if r.get("error") or r.get("errors")]
        if bad:
            failed_runs.append((run, bad[:2]))
        for consumer in consumers:  # the parent's own connection still answers right
            assert _check(consumer.refresh(), flag) is None
    assert failed_runs == []


def test_a_forked_child_restarts_the_drain_thread_and_uses_its_own_pool(rig):
    from sqlalchemy import text

    from bluegreen_db.sqlalchemy_engine import create_engine

    consumer = BlueGreenConsumer(rig.prefix, ttl=1)
    engine = create_engine("writer", consumer=consumer, pool_size=2, drain_interval=0.2)
    with engine.connect() as conn:
        parent_user = conn.scalar(text(rig.who_sql))

    def child(_: int) -> dict[str, Any]:
        drainers = [t.name for t in threading.enumerate() if t.name.startswith("bluegreen-drain")]
        with engine.connect() as conn:
            user = conn.scalar(text(rig.who_sql))
        return {"drainers": drainers, "user": user, "pool_checked_in": engine.pool.checkedin()}

    (result,) = in_children(1, child, timeout=20)
    assert "error" not in result, result
    assert result["drainers"], "the drain thread must run in the child too"
    assert result["user"] == parent_user
    engine.dispose()


# -- a hung Parameter Store ------------------------------------------------------------------------


def _callers(consumer: BlueGreenConsumer, n: int) -> list[Any]:
    """What ``n`` threads calling ``consumer.current()`` at once got (a snapshot or an error)."""
    barrier = threading.Barrier(n)
    out: list[Any] = []
    lock = threading.Lock()

    def call() -> None:
        barrier.wait()
        try:
            result: Any = consumer.current()
        except Exception as exc:
            result = exc
        with lock:
            out.append(result)

    threads = [threading.Thread(target=call) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HOLD_LIMIT)
    return out


def test_nobody_waits_behind_a_hung_refresh_and_the_refresher_only_until_its_timeout(
    layer_stack, rotator, hold_get_parameters
):
    stack = layer_stack
    rotator.rotate()
    client = boto3.client("ssm")
    held: HeldGetParameters = hold_get_parameters(client)
    clock = Clock()

    # A refresher that would wait as long as the call is held: the other callers do not.
    patient = BlueGreenConsumer(
        stack.prefix, ttl=1, client=client, refresh_timeout=2 * HOLD_LIMIT, clock=clock
    )
    first = patient.current()
    held.hold()
    clock.now += 1.1  # expired, less than two TTLs old
    refreshed: list[Any] = []
    refresher = threading.Thread(target=lambda: refreshed.append(patient.current()))
    refresher.start()
    assert held.entered.wait(HOLD_LIMIT)
    wave = _callers(patient, 8)
    assert wave == [first] * 8, "every caller gets the usable stale snapshot"
    assert held.held and refresher.is_alive(), "...while the refresh is still held: nobody waited for it"
    assert patient.parameter_calls == 2, "one refresh in flight at a time, not one per caller"
    held.release()
    refresher.join(HOLD_LIMIT)
    assert refreshed[0].generation == 2, "let go, the call reached moto and its snapshot was installed"

    # A refresher with a short timeout gives up while the call is still held, and serves the stale one.
    hasty = BlueGreenConsumer(stack.prefix, ttl=1, client=client, refresh_timeout=0.5, clock=clock)
    first = hasty.current()
    held.hold()
    clock.now += 1.1
    assert hasty.current() is first
    assert held.held, "the refresher's wait ended at its timeout, not with the call"
    clock.now += 1.5  # now older than two TTLs, the hung call still outstanding: nobody waits at all
    assert _callers(hasty, 8) == [first] * 8
    assert held.held
    assert hasty.parameter_calls == 2

    # Nothing to fall back on: the caller learns at the refresh timeout, with a typed error.
    cold = BlueGreenConsumer(stack.prefix, client=client, refresh_timeout=0.5)
    with pytest.raises(RefreshTimeoutError, match="refresh timeout"):
        cold.current()
    assert held.held
    held.release()


# -- access denied -----------------------------------------------------------------------------------


def test_twenty_access_denied_connects_make_at_most_three_get_parameters(rig, count_ssm_calls):
    name = f"{rig.prefix}/{rig.flag()}/writer-db-url"
    good = parse_url(rig.ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
    wrong = good.__class__(**{**good.__dict__, "password": "not-the-password-1"}).render()
    rig.ssm.put_parameter(Name=name, Value=wrong, Type="SecureString", Overwrite=True)
    driver = driver_for(good)  # 1045 for MySQL, 28P01 for PostgreSQL

    consumer = BlueGreenConsumer(rig.prefix, ttl=3600)
    calls = count_ssm_calls(consumer.client)
    denied = 0
    for _ in range(10):  # ten in a row...
        with pytest.raises(Exception) as err:
            consumer.connect()
        denied += driver.is_login_denied(err.value)

    def storm() -> None:  # ...and ten at once
        nonlocal denied
        try:
            consumer.connect()
        except Exception as exc:
            denied += driver.is_login_denied(exc)

    threads = [threading.Thread(target=storm) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert denied == 20
    assert calls["GetParameters"] <= 3
    print(f"20 access-denied connects: {calls['GetParameters']} GetParameters calls")
