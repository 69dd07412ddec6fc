"""The async consumer with a plain fake SSM client: one refresh per loop, and the loop keeps running."""

from __future__ import annotations

import asyncio
import threading

from bluegreen_db.async_consumer import AsyncBlueGreenConsumer
from tests.unit.layer.fakes import HOLD_LIMIT, make


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
    """The fake's call returns only once the loop has ticked three times during it: had the refresh
    run on the loop's thread, the ticker could not tick and the call would give up."""
    sync, ssm, clock = make(ttl=10)
    consumer = AsyncBlueGreenConsumer(sync)
    ticked = threading.Condition()
    ticks = 0
    ticks_during_call: list[int] = []

    def call_waits_for_three_ticks() -> None:
        with ticked:
            start = ticks
            ticked.wait_for(lambda: ticks >= start + 3, timeout=HOLD_LIMIT)
            ticks_during_call.append(ticks - start)

    async def ticker(stop: asyncio.Event) -> None:
        nonlocal ticks
        while not stop.is_set():
            with ticked:
                ticks += 1
                ticked.notify_all()
            await asyncio.sleep(0.01)

    async def run():
        await consumer.current()
        ssm.on_call = call_waits_for_three_ticks
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
    assert len(ticks_during_call) == 1
    assert ticks_during_call[0] >= 3  # the loop kept running while the call was under way


def test_coroutines_with_a_just_expired_snapshot_do_not_wait_for_the_refresh():
    sync, ssm, clock = make(ttl=10, refresh_timeout=2 * HOLD_LIMIT)
    consumer = AsyncBlueGreenConsumer(sync)

    async def run():
        first = await consumer.current()
        ssm.hold()
        clock.now += 11  # expired, less than two TTLs old
        refresh = asyncio.create_task(consumer.current())
        assert await asyncio.to_thread(ssm.entered.wait, HOLD_LIMIT)  # the refresh's call is held
        served = await consumer.current()
        held_while_served = ssm.held and not refresh.done()
        ssm.release()
        return first, served, held_while_served, await refresh

    first, served, held_while_served, refreshed = asyncio.run(run())
    assert served is first
    assert held_while_served  # the coroutine got its snapshot while the refresh was still held
    assert refreshed.generation == 2
