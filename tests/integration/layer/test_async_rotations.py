"""The asyncio path against the real stack: AsyncBlueGreenConsumer.connect and the aiomysql engine keep
serving through three real rotations (ACTIVE_SESSION_POLICY=fail, grace just above the TTL)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

import pymysql
import pytest
from sqlalchemy import text

from bluegreen_db.async_consumer import AsyncBlueGreenConsumer
from bluegreen_db.async_engine import create_async_engine
from bluegreen_db.consumer import BlueGreenConsumer
from bluegreen_db.errors import TlsError
from tests.integration.layer.held_calls import HOLD_LIMIT

WHO_SQL = "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)"


async def who(consumer: AsyncBlueGreenConsumer, role: str = "writer") -> str:
    """The user a new ``consumer.connect(role)`` logs in as."""
    conn = await consumer.connect(role)
    try:
        async with conn.cursor() as cur:
            await cur.execute(WHO_SQL)
            return str((await cur.fetchone())[0])
    finally:
        conn.close()


class AsyncLoad:
    """An event loop in its own thread running direct-connect and pooled-engine workers until stopped.

    A ticker coroutine counts the loop's turns, and every GetParameters of the consumer's client (a
    botocore ``before-send`` hook) goes on only once the ticker has ticked three times during it: had
    a refresh run on the loop's thread, the ticker could not tick, the call would give up waiting and
    ``ticks_during_refreshes`` would show it.
    """

    def __init__(
        self,
        consumer: AsyncBlueGreenConsumer,
        workers: int = 4,
        *,
        who_sql: str = WHO_SQL,
        direct: Callable[[AsyncBlueGreenConsumer], Awaitable[str]] | None = None,
    ) -> None:
        """``who_sql`` names the logged-in user in the engine's SQL; ``direct`` is the direct-connect
        worker's operation (default: :func:`who` as the reader)."""
        self.consumer = consumer
        self.workers = workers
        self.who_sql = who_sql
        self.direct = direct or (lambda c: who(c, "reader"))
        self.seen: list[tuple[float, str, str]] = []  # (time, path, user)
        self.errors: list[str] = []
        self.ticks = 0
        self.ticks_during_refreshes: list[int] = []  # per GetParameters: the loop's ticks during it
        self._ticked = threading.Condition()
        consumer.sync.client.meta.events.register("before-send.ssm.GetParameters", self._ticks_go_on)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._ready = threading.Event()

    def __enter__(self) -> AsyncLoad:
        self._thread.start()
        assert self._ready.wait(30), "the async load did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with self._ticked:
            self._ticked.notify_all()
        self._thread.join(timeout=60)

    async def _main(self) -> None:
        engine = await create_async_engine("writer", consumer=self.consumer, pool_size=2, max_overflow=0)
        self._ready.set()

        async def pooled() -> str:
            async with engine.connect() as conn:
                return str(await conn.scalar(text(self.who_sql)))

        tasks = [
            asyncio.create_task(self._loop("direct", lambda: self.direct(self.consumer)))
            for _ in range(self.workers)
        ]
        tasks += [asyncio.create_task(self._loop("pooled", pooled)) for _ in range(self.workers)]
        tasks.append(asyncio.create_task(self._ticker()))
        while not self._stop.is_set():
            await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await engine.dispose()

    async def _loop(self, path: str, op: Callable[[], Awaitable[str]]) -> None:
        """Runs ``op`` (returning the logged-in user) until cancelled, recording users and errors."""
        while True:
            try:
                user = await op()
                self.seen.append((time.monotonic(), path, user))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.errors.append(f"{path}: {type(exc).__name__}: {exc}")
            await asyncio.sleep(0.01)

    async def _ticker(self) -> None:
        while True:
            with self._ticked:
                self.ticks += 1
                self._ticked.notify_all()
            await asyncio.sleep(0.01)

    def _ticks_go_on(self, **_: object) -> None:
        """Runs in the thread making the call; returns nothing, so the request goes on to moto."""
        if not self._ready.is_set():
            return  # the engine's first read, before the ticker runs
        with self._ticked:
            start = self.ticks
            self._ticked.wait_for(lambda: self.ticks >= start + 3 or self._stop.is_set(), timeout=HOLD_LIMIT)
            if not self._stop.is_set():  # at shutdown the ticker stops first
                self.ticks_during_refreshes.append(self.ticks - start)


@pytest.mark.slow
def test_async_consumer_and_engine_through_three_rotations(layer_stack, rotator, ttl, no_password_in_logs):
    stack = layer_stack
    assert rotator.rotate() == "green"  # adoption
    consumer = AsyncBlueGreenConsumer(BlueGreenConsumer(stack.prefix, ttl=ttl))
    users = {"blue": stack.app.username, "green": f"{stack.app.username}_green"}
    with AsyncLoad(consumer) as load:
        flags = rotator.rotate_under_load(no_password_in_logs, settle=ttl * 2.5)
    assert load.errors == []
    assert flags == ["blue", "green", "blue"]
    assert load.ticks_during_refreshes, "the load refreshed"
    assert min(load.ticks_during_refreshes) >= 3, "the loop kept running during every refresh"
    last = rotator.last_finished
    assert last is not None
    for path in ("direct", "pooled"):
        assert {u for _, p, u in load.seen if p == path} == set(users.values())
        late = {u for ts, p, u in load.seen if p == path and ts > last + ttl * 2 + 0.1}
        assert late == {users["blue"]}, f"{path}: after two TTLs every worker uses the flag's color"
    assert consumer.sync.refreshes < len(load.seen) / 5


def test_async_access_denied_refreshes_once_and_retries(layer_stack, rotator, count_ssm_calls):
    stack = layer_stack
    rotator.rotate()  # green
    sync = BlueGreenConsumer(stack.prefix, ttl=3600)
    calls = count_ssm_calls(sync.client)
    consumer = AsyncBlueGreenConsumer(sync)
    assert asyncio.run(who(consumer)).endswith("_green")
    rotator.rotate()  # blue
    rotator.rotate()  # green gets a new password: the cached one is wrong now
    assert asyncio.run(who(consumer)) == f"{stack.app.username}_green"
    assert calls["GetParameters"] == 2


def test_async_connect_refuses_plaintext_when_tls_is_required(layer_stack, rotator, monkeypatch):
    """The session's MariaDB offers no TLS: aiomysql alone would log in in plaintext."""
    stack = layer_stack
    rotator.rotate()
    consumer = AsyncBlueGreenConsumer(BlueGreenConsumer(stack.prefix, tls_mode="require"))
    with pytest.raises(TlsError, match="offers no TLS"):
        asyncio.run(consumer.connect())
    with pytest.raises(pymysql.err.OperationalError):  # and the sync path (PyMySQL) refuses too
        consumer.sync.connect()
