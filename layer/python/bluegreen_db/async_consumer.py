"""The consumer for asyncio servers (FastAPI, aiohttp...): the event loop never waits on Parameter Store.

:class:`AsyncBlueGreenConsumer` wraps a :class:`~bluegreen_db.consumer.BlueGreenConsumer` (same
snapshot, same TTL, same single ``GetParameters`` call, shareable with sync code of the same process):

* a fresh snapshot is returned without leaving the loop;
* an expired one is refreshed with ``asyncio.to_thread`` (the sync consumer's bounded, single-flight
  refresh runs in the default executor), once per event loop: other coroutines of that loop await the
  same task, or, holding a usable snapshot, get it at once, exactly as threads do in the sync consumer;
* MySQL 1045 refreshes as :meth:`BlueGreenConsumer.refresh_after_denied` does (rate-limited) and the
  connection is retried.

Connections are aiomysql's (the ``async`` extra, pinned): aiomysql is built on PyMySQL (its errors,
converters, URL and ``ssl`` semantics are PyMySQL's), so the sync and async paths agree on TLS
behaviour, error codes (1045 is ``pymysql.err.OperationalError``) and the URL codec. asyncmy would be
faster per query, but re-implements the protocol in Cython with its own error classes and TLS handling.

aiomysql falls back to plaintext when the server offers no TLS, whatever ``ssl`` says (0.3.2,
``Connection._request_authentication``): the connection class here refuses before authenticating.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

from bluegreen_db.consumer import BlueGreenConsumer, Snapshot, check_role, is_access_denied, newer_credentials
from bluegreen_db.dburl import DbUrl
from bluegreen_db.errors import TlsError
from bluegreen_db.naming import Role

if TYPE_CHECKING:
    import ssl

CLIENT_SSL = 2048  # pymysql.constants.CLIENT.SSL: the server offers TLS


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
        """An aiomysql connection as the current color's user (TLS per the consumer's settings).

        On 1045 the snapshot is refreshed (rate-limited) and the connection retried once with the
        refreshed credentials; with nothing newer the original error is raised. ``kwargs`` go to
        ``aiomysql.connect`` (a caller's ``ssl`` replaces the TLS settings).
        """
        import pymysql

        role = check_role(role)
        snap = await self.current()
        try:
            return await self._open(snap.url(role), kwargs)
        except pymysql.err.OperationalError as exc:
            if not is_access_denied(exc):
                raise
            fresh = newer_credentials(snap, await self.refresh_after_denied(snap), role)
            if fresh is None:
                raise
        return await self._open(fresh.url(role), kwargs)

    async def _open(self, url: DbUrl, kwargs: dict[str, Any]) -> Any:
        params: dict[str, Any] = {"connect_timeout": self.sync.connect_timeout, **kwargs}
        if "ssl" not in params:
            params["ssl"] = self.sync.tls_for(url).context()
        return await tls_checked_connect(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            db=url.database or None,
            **params,
        )


_connection_class: type[Any] | None = None


def _checked_class() -> type[Any]:
    """aiomysql's Connection, refusing to authenticate in plaintext when TLS was asked for."""
    global _connection_class  # noqa: PLW0603 - built once, on first use (aiomysql imports lazily)
    if _connection_class is None:
        import aiomysql

        class TlsCheckedConnection(aiomysql.Connection):  # type: ignore[misc]
            async def _request_authentication(self) -> None:
                if self._ssl_context and not self.server_capabilities & CLIENT_SSL:
                    raise TlsError(
                        f"{self._host}:{self._port} offers no TLS and TLS was required; "
                        "refusing plaintext (nothing was sent)"
                    )
                await super()._request_authentication()

        _connection_class = TlsCheckedConnection
    return _connection_class


async def tls_checked_connect(*, ssl: ssl.SSLContext | None = None, **kwargs: Any) -> Any:
    """``aiomysql.connect`` that never downgrades: with ``ssl``, a server without TLS is refused."""
    conn = _checked_class()(ssl=ssl, **kwargs)
    try:
        await conn._connect()
    except BaseException:
        conn.close()
        raise
    return conn
