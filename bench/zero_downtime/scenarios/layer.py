"""This project under load: Lambda-style workers through ``BlueGreenConsumer.connect`` (one consumer
per simulated Lambda container), server-style workers through ``bluegreen_db.create_engine``; R
rotations back to back through the real handler, ``ROTATION_GRACE_SECONDS`` just above the consumer
TTL and ``ACTIVE_SESSION_POLICY=fail`` (a consumer left on the old color would make a rotation refuse).
"""

from __future__ import annotations

import collections

from bluegreen_db.consumer import BlueGreenConsumer
from bluegreen_db.sqlalchemy_engine import create_engine

from ..harness import Harness
from ..load import POOL_RECYCLE, SERVER_THREADS, log
from ..results import Result
from ..rotations import count_ssm_calls


def run(harness: Harness) -> Result:
    a = harness.args
    seeded, rot = harness.adopted("fail")
    calls: collections.Counter[str] = collections.Counter()
    consumers: list[BlueGreenConsumer] = []

    def consumer() -> BlueGreenConsumer:
        c = BlueGreenConsumer(seeded.names.prefix, ttl=a.ttl)
        count_ssm_calls(c.client, calls)
        consumers.append(c)
        return c

    engines = [
        create_engine(
            "writer",
            consumer=consumer(),
            pool_size=SERVER_THREADS,
            max_overflow=0,
            pool_recycle=POOL_RECYCLE,
            drain_interval=a.ttl,
        )
        for _ in range(harness.server_count)
    ]
    workers = harness.workers("layer", lambda: consumer().connect, engines)
    log(f"layer: {len(workers)} workers, TTL {a.ttl}s, grace {a.grace}s, {a.rotations} rotations")
    flips, end = harness.drive("layer", workers, engines, a.rotations, rot.change)
    refreshes = sum(c.refreshes for c in consumers)
    total_ops = sum(len(w.ops) for w in workers)
    note = (
        f"{sum(calls.values())} Parameter Store calls ({dict(calls)}) for {total_ops} operations by "
        f"{len(consumers)} consumers; {rot.refused_note}"
    )
    return Result("layer (this project)", workers, flips, end, sum(calls.values()), refreshes, note)
