"""Reading the configuration at cold start with a fixed delay injected into every AWS call (a botocore
``before-send`` hook): the layer's one ``GetParameters`` against the seed's three ``GetParameter``."""

from __future__ import annotations

import statistics
import time
from typing import Any

import boto3

from bluegreen_db.consumer import BlueGreenConsumer

from ..baselines import SeedLayer
from ..harness import Harness
from ..load import log


def run(harness: Harness) -> dict[str, float]:
    """The median read time of each, seconds, and ``n``, the number of samples."""
    log("cold-start configuration latency")
    a = harness.args
    seeded, _rot = harness.adopted("warn")
    names = seeded.names
    client = boto3.client("ssm")
    delay = a.delay_ms / 1000

    def slow(**_: Any) -> None:
        time.sleep(delay)

    client.meta.events.register("before-send.ssm.*", slow)
    layer_times, seed_times = [], []
    client.get_parameter(Name=names.flag)  # warm the connection pool: time only the reads
    for _ in range(a.cold_samples):
        started = time.perf_counter()
        BlueGreenConsumer(names.prefix, client=client).current()
        layer_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        SeedLayer(client, names.prefix)
        seed_times.append(time.perf_counter() - started)
    return {
        "layer": statistics.median(layer_times),
        "seed": statistics.median(seed_times),
        "n": a.cold_samples,
    }
