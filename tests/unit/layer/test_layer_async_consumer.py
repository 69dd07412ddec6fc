"""The async consumer with a plain fake SSM client: one refresh per loop, and the loop keeps running."""

from __future__ import annotations

import asyncio

from bluegreen_db.async_consumer import AsyncBlueGreenConsumer
from tests.unit.layer.test_layer_consumer import make


def test_a_fresh_snapshot_is_served_without_leaving_the_loop():
    sync, ssm, _ = make()
    consumer = AsyncBlueGreenConsumer(sync)

    async def run():
        first = await consumer.current()
        return first, await consumer.current()

    first, second = asyncio.run(run())
    assert first is second
    assert len(ssm.calls) == 1


def test_an_expired_snapshot_is_refreshed_once_off_the_loop():
    sync, ssm, clock = make(ttl=10)
    consumer = AsyncBlueGreenConsumer(sync)
    ticks = 0

    async def ticker(stop: asyncio.Event) -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    async def run():
        await consumer.current()
        ssm.delay = 0.3
        clock.now += 25  # older than two TTLs: every coroutine needs the refresh
        stop = asyncio.Event()
        tick = asyncio.create_task(ticker(stop))
        snaps = await asyncio.gather(*(consumer.current() for _ in range(20)))
        stop.set()
        await tick
        return snaps

    snaps = asyncio.run(run())
    assert {s.generation for s in snaps} == {2}
    assert len(ssm.calls) == 2  # one refresh for twenty coroutines
    assert ticks >= 5  # the loop kept running while the 0.3 s call was under way


def test_coroutines_with_a_just_expired_snapshot_do_not_wait_for_the_refresh():
    sync, ssm, clock = make(ttl=10)
    consumer = AsyncBlueGreenConsumer(sync)

    async def run():
        first = await consumer.current()
        ssm.delay = 0.3
        clock.now += 11  # expired, less than two TTLs old
        refresh = asyncio.create_task(consumer.current())
        await asyncio.sleep(0.05)
        served = await asyncio.wait_for(consumer.current(), timeout=0.1)
        return first, served, await refresh

    first, served, refreshed = asyncio.run(run())
    assert served is first
    assert refreshed.generation == 2
