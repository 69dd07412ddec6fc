"""One event loop: ``AsyncBlueGreenConsumer.connect`` tasks (column "lambda") and aiomysql engine tasks
("server"), through R real rotations under ``ACTIVE_SESSION_POLICY=fail``."""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Awaitable, Callable

import sqlalchemy

from bluegreen_db.async_consumer import AsyncBlueGreenConsumer
from bluegreen_db.async_engine import create_async_engine
from bluegreen_db.consumer import BlueGreenConsumer

from ..harness import Harness
from ..load import PAUSE, PAUSE_AFTER_FAILURE, POOL_RECYCLE, WHO_SQL, Worker, log
from ..results import Result
from ..rotations import count_ssm_calls


async def _loop(w: Worker, op: Callable[[], Awaitable[str]], stop: threading.Event) -> None:
    """:meth:`Worker.loop` as a task: the same records and pauses, awaited instead of slept."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            w.succeeded(started, await op())
        except Exception as exc:  # noqa: BLE001 - every failure counts
            w.failed(started, exc)
            await asyncio.sleep(PAUSE_AFTER_FAILURE)
        await asyncio.sleep(PAUSE)


def run(harness: Harness) -> Result:
    a = harness.args
    seeded, rot = harness.adopted("fail")
    calls: collections.Counter[str] = collections.Counter()
    sync = BlueGreenConsumer(seeded.names.prefix, ttl=a.ttl)
    count_ssm_calls(sync.client, calls)
    consumer = AsyncBlueGreenConsumer(sync)
    n = max(2, a.workers // 2)
    workers = [Worker(f"asyncio-connect-{i}", "lambda") for i in range(n)]
    workers += [Worker(f"asyncio-engine-{i}", "server") for i in range(n)]
    stop = threading.Event()
    ready = threading.Event()
    who = sqlalchemy.text(WHO_SQL)

    async def direct() -> str:
        conn = await consumer.connect("writer")
        try:
            async with conn.cursor() as cur:
                await cur.execute(WHO_SQL)
                return str((await cur.fetchone())[0])
        finally:
            conn.close()

    async def main() -> None:
        engine = await create_async_engine(
            "writer", consumer=consumer, pool_size=n, max_overflow=0, pool_recycle=POOL_RECYCLE
        )

        async def pooled() -> str:
            async with engine.connect() as conn:
                return str(await conn.scalar(who))

        ready.set()
        await asyncio.gather(*(_loop(w, direct if w.kind == "lambda" else pooled, stop) for w in workers))
        await engine.dispose()

    thread = threading.Thread(target=lambda: asyncio.run(main()), name="asyncio-server", daemon=True)
    thread.start()
    ready.wait(30)
    log(f"asyncio: {n} connect() tasks + {n} engine tasks on one event loop")
    flips, end = harness.changes("asyncio", a.rotations, rot.change)
    stop.set()
    thread.join(timeout=60)
    note = f"{sum(calls.values())} Parameter Store calls ({dict(calls)}); {rot.refused_note}"
    return Result("asyncio server", workers, flips, end, sum(calls.values()), sync.refreshes, note)
