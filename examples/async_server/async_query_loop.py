"""Example asyncio server loop: concurrent queries that follow the blue/green flag without blocking.

Needs the ``async`` extra (``pip install 'bluegreen-rotation[async]'``) and the consumer's usual
environment: ``PARAMETER_PREFIX`` (or ``ENV``), AWS credentials and region, and TLS settings
(``BLUEGREEN_DB_TLS_MODE``, ``BLUEGREEN_DB_TLS_CA_FILE``: verify-full by default). Run::

    python examples/async_server/async_query_loop.py --seconds 30

Every second it prints which database user each path logged in as; run a rotation meanwhile
(``bluegreen rotate-now``) and watch both paths move to the new color with no failed query.
"""

from __future__ import annotations

import argparse
import asyncio
import collections

from sqlalchemy import text

from bluegreen_db import AsyncBlueGreenConsumer, BlueGreenConsumer, create_async_engine

WHO = "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)"


async def main(seconds: float, tasks: int) -> None:
    params = AsyncBlueGreenConsumer(BlueGreenConsumer())
    engine = await create_async_engine("writer", consumer=params, pool_size=tasks)
    seen: collections.Counter[str] = collections.Counter()
    failures: collections.Counter[str] = collections.Counter()

    async def pooled() -> None:
        while True:
            try:
                async with engine.connect() as conn:
                    seen[f"engine as {await conn.scalar(text(WHO))}"] += 1
            except Exception as exc:  # noqa: BLE001 - an example counts failures, it never stops
                failures[type(exc).__name__] += 1
            await asyncio.sleep(0.05)

    async def direct() -> None:
        while True:
            try:
                conn = await params.connect("reader")
                try:
                    async with conn.cursor() as cur:
                        await cur.execute(WHO)
                        seen[f"connect() as {(await cur.fetchone())[0]}"] += 1
                finally:
                    conn.close()
            except Exception as exc:  # noqa: BLE001
                failures[type(exc).__name__] += 1
            await asyncio.sleep(0.05)

    workers = [asyncio.create_task(pooled()) for _ in range(tasks)]
    workers += [asyncio.create_task(direct()) for _ in range(tasks)]
    for _ in range(int(seconds)):
        await asyncio.sleep(1)
        print(dict(seen), "failures:", dict(failures))  # noqa: T201
        seen.clear()
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--tasks", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.tasks))
