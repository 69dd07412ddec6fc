"""Baseline b: the seed post's layer (three sequential ``get_parameter`` calls once at cold start, never
refreshed; servers likewise read once at start-up) across two real rotations.

``ACTIVE_SESSION_POLICY=warn`` here: under ``fail`` the rotation would be refused instead, because the
seed's consumers never leave the old color.
"""

from __future__ import annotations

import collections

import boto3

from ..baselines import SeedLayer, static_engine, static_pymysql
from ..harness import Harness
from ..load import log
from ..results import Result
from ..rotations import count_ssm_calls

ROTATIONS = 2  # the first leaves the seed's color valid, the second changes its password


def run(harness: Harness) -> Result:
    seeded, rot = harness.adopted("warn")  # the mirror exists, flag: green
    calls: collections.Counter[str] = collections.Counter()
    cold_starts = 0

    def cold_start() -> SeedLayer:
        nonlocal cold_starts
        client = boto3.client("ssm")
        count_ssm_calls(client, calls)
        cold_starts += 1
        return SeedLayer(client, seeded.names.prefix)

    engines = [static_engine(cold_start().writer_db_url) for _ in range(harness.server_count)]
    workers = harness.workers("seed", lambda: static_pymysql(cold_start().writer_db_url), engines)
    log(f"seed: {len(workers)} workers read the flag once at cold start; {ROTATIONS} rotations")
    flips, end = harness.drive("seed", workers, engines, ROTATIONS, rot.change)
    return Result(
        "baseline b: seed layer (read once)",
        workers,
        flips,
        end,
        sum(calls.values()),
        cold_starts,
        "never follows the flag; rotation 1 leaves its color valid, rotation 2 changes its password",
    )
