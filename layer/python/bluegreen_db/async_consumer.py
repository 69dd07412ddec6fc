"""The consumer for asyncio servers (FastAPI, aiohttp...): the event loop never waits on Parameter Store.

:class:`AsyncBlueGreenConsumer` wraps a :class:`~bluegreen_db.consumer.BlueGreenConsumer` (same
snapshot, same TTL, same single ``GetParameters`` call, shareable with sync code of the same process):

* a fresh snapshot is returned without leaving the loop;
* an expired one is refreshed with ``asyncio.to_thread`` (the sync consumer's bounded, single-flight
  refresh runs in the default executor), once per event loop: other coroutines of that loop await the
  same task, or, holding a usable snapshot, get it at once, exactly as threads do in the sync consumer;
* a refused login (the driver's ``is_login_denied``) refreshes as
  :meth:`BlueGreenConsumer.refresh_after_denied` does (rate-limited) and the connection is retried.

Connections come from the asyncio driver the URL's scheme names (:func:`bluegreen_db.drivers.
async_driver_for`): for MySQL URLs aiomysql, refusing a server without TLS before authenticating
when TLS is required; for PostgreSQL URLs psycopg 3's ``AsyncConnection`` with libpq's ``sslmode``,
checked to be encrypted.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from bluegreen_db.consumer import BlueGreenConsumer
from bluegreen_db.dburl import DbUrl
from bluegreen_db.drivers import AsyncDriver, async_driver_for
from bluegreen_db.naming import Role
from bluegreen_db.refresh import newer_credentials
from bluegreen_db.snapshot import Snapshot, check_role


class AsyncBlueGreenConsumer:
    """Async access to one :class:`BlueGreenConsumer`'s snapshot; safe to share across event loops.

    :param consumer: the sync consumer to wrap; default one built from ``kwargs`` (same parameters
        as :class:`BlueGreenConsumer`: ``prefix``, ``ttl``, ``refresh_timeout``, ``tls_mode``...).
    """

    def __init__(self, consumer: BlueGreenConsumer | None = None, **kwargs: Any) -> None:
        if consumer is not None and kwargs:
            raise TypeError("pass either a consumer or its parameters, not both")
        self.sync = consumer if consumer is not None else BlueGreenConsumer(**kwargs)
        self._tasks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[Snapshot]] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"Async{self.sync!r}"

    async def current(self) -> Snapshot:
        """The snapshot; refreshed off the loop when expired, at most one refresh per loop at a time."""
        sync = self.sync
        snap = sync.cached
        if snap is not None and sync.is_fresh(snap):
            return snap
        loop = asyncio.get_running_loop()
        task = self._tasks.get(loop)
        if task is None or task.done():
            task = loop.create_task(asyncio.to_thread(sync.current))
            self._tasks[loop] = task
        elif snap is not None and sync.serves_while_refreshing(snap):
            return snap
        # shield: a cancelled caller must not cancel the refresh other coroutines wait for
        return await asyncio.shield(task)

    async def refresh_after_denied(self, stale: Snapshot) -> Snapshot:
        return await asyncio.to_thread(self.sync.refresh_after_denied, stale)

    async def connect(self, role: Role = "writer", **kwargs: Any) -> Any:
        """An asyncio connection as the current color's user (TLS per the consumer's settings).

        When the database refuses the login the snapshot is refreshed (rate-limited) and the
        connection retried once with the refreshed credentials; with nothing newer the original
        error is raised. ``kwargs`` go to the driver's ``connect`` (a caller's ``ssl`` replaces the
        TLS settings).
        """
        role = check_role(role)
        snap = await self.current()
        url = snap.url(role)
        driver = async_driver_for(url)
        try:
            return await self._open(driver, url, kwargs)
        except Exception as exc:
            if not driver.is_login_denied(exc):
                raise
            fresh = newer_credentials(snap, await self.refresh_after_denied(snap), role)
            if fresh is None:
                raise
        url = fresh.url(role)
        return await self._open(async_driver_for(url), url, kwargs)

    async def _open(self, driver: AsyncDriver, url: DbUrl, kwargs: dict[str, Any]) -> Any:
        params: dict[str, Any] = {"connect_timeout": self.sync.connect_timeout, **kwargs}
        return await driver.connect(url, self.sync.tls_for(url), **params)
