"""This project under load: Lambda-style workers through ``BlueGreenConsumer.connect`` (one consumer
per simulated Lambda container), server-style workers through ``bluegreen_db.create_engine``; R
rotations back to back through the real handler, ``ROTATION_GRACE_SECONDS`` just above the consumer
TTL and ``ACTIVE_SESSION_POLICY=fail`` (a consumer left on the old color would make a rotation refuse).
:func:`run_on` runs the same on either engine (the PostgreSQL scenario is :mod:`.postgresql`).
"""

from __future__ import annotations

import collections

from bluegreen_db.consumer import BlueGreenConsumer
from bluegreen_db.sqlalchemy_engine import create_engine
from bluegreen_ops.devstack.engines import LocalEngine

from ..harness import Harness
from ..load import POOL_RECYCLE, SERVER_THREADS, log
from ..results import Result
from ..rotations import count_ssm_calls


def run(harness: Harness) -> Result:
    return run_on(harness, "mysql", "layer (this project)", "layer")


def run_on(harness: Harness, engine: LocalEngine, name: str, tag: str) -> Result:
    """The layer's ``connect()`` and ``create_engine`` under load through R rotations on ``engine``."""
    a = harness.args
    seeded, rot = harness.adopted("fail", engine)
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
    workers = harness.workers(tag, lambda: consumer().connect, engines, seeded.who_sql)
    log(f"{tag}: {len(workers)} workers, TTL {a.ttl}s, grace {a.grace}s, {a.rotations} rotations")
    flips, end = harness.drive(tag, workers, engines, a.rotations, rot.change)
    refreshes = sum(c.refreshes for c in consumers)
    total_ops = sum(len(w.ops) for w in workers)
    note = (
        f"{sum(calls.values())} Parameter Store calls ({dict(calls)}) for {total_ops} operations by "
        f"{len(consumers)} consumers; {rot.refused_note}"
    )
    return Result(name, workers, flips, end, sum(calls.values()), refreshes, note)
