"""A TCP proxy in front of moto stops answering while callers hold a just-expired snapshot: the callers'
waits (p50/p99/max) through the layer against a cache holding one lock across its call (each waiter
refetching in turn), with the same client and botocore timeouts, in the same run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

from bluegreen_db.consumer import BlueGreenConsumer
from bluegreen_ops.devstack.faults import StallingProxy

from ..baselines import LockHeldAcrossCall
from ..harness import Harness
from ..load import log

LAYER = "layer"
LOCK_HELD = "lock held across the call"


def timed_callers(consumer: Any, callers: int, calls: int) -> list[float]:
    """``callers`` threads each calling ``consumer.current()`` ``calls`` times; every wait, seconds."""
    waits: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(callers)

    def run() -> None:
        barrier.wait()
        for _ in range(calls):
            started = time.perf_counter()
            consumer.current()
            with lock:
                waits.append(time.perf_counter() - started)
            time.sleep(0.05)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    return waits


def run(harness: Harness) -> dict[str, list[float]]:
    """Each consumer's waits, by name: the layer's first, then the baseline's."""
    log("hung Parameter Store")
    a = harness.args
    seeded, _rot = harness.adopted("warn")
    prefix = seeded.names.prefix
    assert harness.moto is not None
    proxy = StallingProxy(harness.moto.port)
    config = Config(read_timeout=a.hung_read_timeout, retries={"mode": "standard", "total_max_attempts": 1})
    consumers: dict[str, Callable[[Any], Any]] = {
        LAYER: lambda c: BlueGreenConsumer(prefix, ttl=1, client=c, refresh_timeout=1.0),
        LOCK_HELD: lambda c: LockHeldAcrossCall(prefix, c),
    }
    waits: dict[str, list[float]] = {}
    try:
        for name, make in consumers.items():
            consumer = make(boto3.client("ssm", endpoint_url=proxy.endpoint, config=config))
            consumer.current()
            time.sleep(1.1)  # expired, under two TTLs: a usable stale snapshot
            proxy.stall_all()
            # The lock serializes every caller behind each hung call: one call each is enough.
            calls = a.hung_calls if name == LAYER else 1
            waits[name] = timed_callers(consumer, a.hung_callers, calls)
            log(f"hung Parameter Store, {name}: {len(waits[name])} calls")
            proxy.serve_new()
    finally:
        proxy.close()
    return waits
