"""An asyncio SQLAlchemy engine whose new connections log in as the current color.

The async twin of :func:`bluegreen_db.sqlalchemy_engine.create_engine`, with the same listeners
(:func:`~bluegreen_db.sqlalchemy_engine.follow_flag`): new connections take the current color's
credentials, a refused login refreshes (rate-limited) and retries once, pooled connections of the old
color are replaced at checkout and closed at checkin. SQLAlchemy runs those listeners inside its greenlet, so
they await the :class:`~bluegreen_db.async_consumer.AsyncBlueGreenConsumer` with
``sqlalchemy.util.await_``: a refresh never blocks the event loop (it runs in a worker thread).

Why a plain ``sqlalchemy.ext.asyncio.create_async_engine`` with ``do_connect`` fails: the sync
engine's listener calls the consumer from the event loop's thread, and ``create_engine(drivername=
"mysql+aiomysql")`` is a sync engine over an async driver (``MissingGreenlet``).

TLS: the consumer's settings (default ``verify-full``), as the asyncio driver of the URL's scheme
gives them to SQLAlchemy (``sqlalchemy_params``: for MySQL an ``SSLContext`` and a connection factory
that refuses a server without TLS before authenticating, where aiomysql alone would continue in
plaintext; for PostgreSQL libpq's ``sslmode`` and a factory around ``psycopg.AsyncConnection`` that
bounds the connect and refuses a connection left unencrypted). PostgreSQL URLs use psycopg 3's own
asyncio connection through SQLAlchemy's ``postgresql+psycopg`` async dialect (no asyncpg).

No ``drain_interval`` here: a thread cannot check connections out of an asyncio pool. Idle
connections of the old color are replaced at their next checkout and bounded by ``pool_recycle``.
Needs the ``async`` extra (SQLAlchemy, the asyncio driver, greenlet); nothing here is imported by
``import bluegreen_db``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import create_async_engine as _sa_create_async_engine
from sqlalchemy.util import await_

from bluegreen_db.async_consumer import AsyncBlueGreenConsumer
from bluegreen_db.consumer import BlueGreenConsumer, default_consumer
from bluegreen_db.dburl import DbUrl
from bluegreen_db.drivers import async_driver_for
from bluegreen_db.naming import Color, Role
from bluegreen_db.snapshot import Snapshot
from bluegreen_db.sqlalchemy_engine import DEFAULT_POOL_RECYCLE, follow_flag
from bluegreen_db.tls import has_own_tls


class _GreenletSource:
    """The async consumer seen from SQLAlchemy's listeners, which run in its greenlet."""

    def __init__(self, consumer: AsyncBlueGreenConsumer) -> None:
        self.consumer = consumer

    def current(self) -> Snapshot:
        return await_(self.consumer.current())

    def color_now(self) -> Color | None:
        # No I/O at checkin/checkout bookkeeping: the snapshot in memory (kept fresh by do_connect
        # and by the application's own reads) is enough to tell an old-color connection.
        snap = self.consumer.sync.cached
        return snap.color if snap is not None else None

    def refresh_after_denied(self, stale: Snapshot) -> Snapshot:
        return await_(self.consumer.refresh_after_denied(stale))

    def open(self, dialect: Dialect, url: DbUrl, cargs: tuple[Any, ...], params: dict[str, Any]) -> Any:
        if not has_own_tls(params) and "async_creator_fn" not in params:
            tls = self.consumer.sync.tls_for(url)
            params = {**params, **async_driver_for(url).sqlalchemy_params(tls)}
        return dialect.connect(*cargs, **params)


async def create_async_engine(
    role: Role = "writer",
    *,
    consumer: AsyncBlueGreenConsumer | BlueGreenConsumer | None = None,
    prefix: str | None = None,
    drivername: str | None = None,
    pool_pre_ping: bool = True,
    pool_recycle: int = DEFAULT_POOL_RECYCLE,
    replace_on_flip: bool = True,
    **kwargs: Any,
) -> AsyncEngine:
    """An :class:`~sqlalchemy.ext.asyncio.AsyncEngine` for ``role`` that follows the blue/green flag.

    A coroutine: the first snapshot is read without blocking the loop. ``consumer`` may be async or
    sync (wrapped); default one for ``prefix``, else the process-wide default consumer. ``drivername``
    defaults to the asyncio driver of the URL's scheme (``mysql+aiomysql``, ``postgresql+psycopg``).
    ``kwargs`` go to :func:`sqlalchemy.ext.asyncio.create_async_engine`. The engine's URL never holds
    a password.
    """
    if isinstance(consumer, AsyncBlueGreenConsumer):
        source = consumer
    else:
        sync = consumer or (BlueGreenConsumer(prefix) if prefix else default_consumer())
        source = AsyncBlueGreenConsumer(sync)
    first = (await source.current()).url(role)
    drivername = drivername or async_driver_for(first).SQLALCHEMY_DRIVERNAME
    passwordless = URL.create(drivername, first.username, None, first.host, first.port, first.database)
    engine = _sa_create_async_engine(
        passwordless, pool_pre_ping=pool_pre_ping, pool_recycle=pool_recycle, **kwargs
    )
    follow_flag(engine.sync_engine, role, _GreenletSource(source), replace_on_flip)
    return engine
