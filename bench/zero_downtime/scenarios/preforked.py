"""gunicorn ``--preload`` style: the parent builds one consumer and one engine (with ``drain_interval``)
and uses them, then forks P processes running T engine threads plus one ``connect()`` thread each; the
children report their operations through a pipe. R real rotations under ``ACTIVE_SESSION_POLICY=fail``.
"""

from __future__ import annotations

import json
import os
import select
from typing import Any

from bluegreen_db.consumer import BlueGreenConsumer
from bluegreen_db.sqlalchemy_engine import create_engine

from ..harness import Harness
from ..load import POOL_RECYCLE, Op, Worker, engine_op, log, pymysql_op, running
from ..results import Result


def _child(
    p: int, threads: int, engine: Any, consumer: BlueGreenConsumer, calls_at_fork: int, stop_r: int
) -> bytes:
    """A worker process's load, until the parent closes the stop pipe; its report as JSON."""
    workers = [Worker(f"prefork-{p}-server-{t}", "server", engine_op(engine)) for t in range(threads)]
    workers.append(Worker(f"prefork-{p}-lambda", "lambda", pymysql_op(consumer.connect)))
    with running(workers):
        select.select([stop_r], [], [])  # until the parent closes the pipe
    return json.dumps(
        {
            "calls": consumer.parameter_calls - calls_at_fork,
            "workers": [
                [w.name, w.kind, [[o.start, o.end, o.user, o.error] for o in w.ops]] for w in workers
            ],
        }
    ).encode()


def _read_report(pid: int, res_r: int) -> dict[str, Any]:
    chunks = []
    while chunk := os.read(res_r, 1 << 20):
        chunks.append(chunk)
    os.close(res_r)
    os.waitpid(pid, 0)
    report: dict[str, Any] = json.loads(b"".join(chunks))
    return report


def run(harness: Harness) -> Result:
    a = harness.args
    seeded, rot = harness.adopted("fail")
    consumer = BlueGreenConsumer(seeded.names.prefix, ttl=a.ttl)
    engine = create_engine(
        "writer",
        consumer=consumer,
        pool_size=a.threads,
        max_overflow=0,
        pool_recycle=POOL_RECYCLE,
        drain_interval=a.ttl,
    )
    engine_op(engine)()  # the parent used its pool and its consumer before forking (--preload)
    calls_at_fork = consumer.parameter_calls
    stop_r, stop_w = os.pipe()
    children: list[tuple[int, int]] = []
    for p in range(a.processes):
        res_r, res_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # a worker process
            os.close(stop_w)
            os.close(res_r)
            try:
                data = _child(p, a.threads, engine, consumer, calls_at_fork, stop_r)
                while data:
                    data = data[os.write(res_w, data) :]
            finally:
                os._exit(0)
        os.close(res_w)
        children.append((pid, res_r))
    os.close(stop_r)
    log(f"prefork: {a.processes} processes x ({a.threads} engine threads + 1 connect thread)")
    flips, end = harness.changes("prefork", a.rotations, rot.change)
    os.close(stop_w)
    workers: list[Worker] = []
    calls = 0
    for pid, res_r in children:
        report = _read_report(pid, res_r)
        calls += report["calls"]
        for name, kind, ops in report["workers"]:
            workers.append(Worker(name, kind, ops=[Op(*op) for op in ops]))
    engine.dispose()
    note = (
        f"{a.processes} processes x {a.threads + 1} threads forked after the parent's first use; "
        f"{calls} Parameter Store calls in the children; {rot.refused_note}"
    )
    return Result(f"preforked ({a.processes}x{a.threads + 1})", workers, flips, end, None, None, note)
