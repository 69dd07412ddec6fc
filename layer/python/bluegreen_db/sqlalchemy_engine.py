"""A SQLAlchemy engine whose new connections always log in as the current color.

For long-running servers: instead of reading the flag once at start-up (the seed's design, which needs
a redeploy per password change), the engine's ``do_connect`` hook takes the host, user, password and
database of every *new* DBAPI connection from the consumer's cached snapshot, so a server follows any
number of rotations without a restart. SQLAlchemy is an optional dependency (the ``server`` extra):
only this module imports it, so Lambdas using :mod:`bluegreen_db.consumer` never pay for it.

What happens to connections at a flip:

* connections checked out when the flag moves keep working (MySQL keeps a session alive when its
  user's password changes, and the rotation does not touch the old color within its grace period);
* with ``replace_on_flip`` (default), a pooled connection of the old color is replaced when it is next
  checked out, so the old color's sessions drain as soon as the server is busy, well inside the grace
  period (the rotation refuses, under ``ACTIVE_SESSION_POLICY=fail``, to change the password of a user
  with live sessions);
* ``pool_recycle`` (default 300 s) bounds the age of idle connections; ``pool_pre_ping`` (default on)
  replaces connections the server has closed.

A new connection refused with MySQL error 1045 refreshes the snapshot once (bypassing the TTL) and is
retried with the refreshed credentials, as :meth:`BlueGreenConsumer.connect` does.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import create_engine as _sa_create_engine
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Dialect, Engine, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from bluegreen_db.consumer import BlueGreenConsumer, Snapshot, default_consumer, is_access_denied
from bluegreen_db.dburl import DbUrl
from bluegreen_db.naming import Role

logger = logging.getLogger(__name__)

#: Key of ``ConnectionPoolEntry.info`` holding the color a DBAPI connection logged in as.
COLOR_INFO_KEY = "bluegreen_color"
DEFAULT_POOL_RECYCLE = 300

# The connect() arguments a URL decides; everything else (connect_args, TLS, charset) is left alone.
_URL_KEYS = ("host", "port", "user", "username", "password", "passwd", "database", "db", "unix_socket")


def _sa_url(url: DbUrl, drivername: str | None) -> URL:
    sa_url = make_url(url.render())
    return sa_url.set(drivername=drivername) if drivername else sa_url


def create_engine(
    role: Role = "writer",
    *,
    consumer: BlueGreenConsumer | None = None,
    prefix: str | None = None,
    drivername: str | None = None,
    pool_pre_ping: bool = True,
    pool_recycle: int = DEFAULT_POOL_RECYCLE,
    replace_on_flip: bool = True,
    **kwargs: Any,
) -> Engine:
    """An engine for ``role`` ("writer" or "reader") that follows the blue/green flag.

    :param consumer: the snapshot source; default a consumer for ``prefix`` if given, else the
        process-wide :func:`~bluegreen_db.consumer.default_consumer`. Share one consumer between a
        server's writer and reader engines: one Parameter Store call per TTL serves both.
    :param drivername: SQLAlchemy driver to use instead of the URL's scheme (``mysql+pymysql``).
    :param replace_on_flip: replace pooled connections of the old color at their next checkout.
    :param kwargs: passed to :func:`sqlalchemy.create_engine` (``pool_size``, ``connect_args``...).

    The engine's ``url`` is the URL at creation without its password (it never holds a credential);
    the credentials each connection really uses come from the consumer at connect time.
    """
    source = (
        consumer if consumer is not None else (BlueGreenConsumer(prefix) if prefix else default_consumer())
    )
    initial = _sa_url(source.current().url(role), drivername)
    engine = _sa_create_engine(
        initial.set(password=None), pool_pre_ping=pool_pre_ping, pool_recycle=pool_recycle, **kwargs
    )
    driver = engine.url.drivername

    def _open(
        dialect: Dialect, snap: Snapshot, cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> DBAPIConnection:
        _, url_params = dialect.create_connect_args(_sa_url(snap.url(role), driver))
        params = {k: v for k, v in cparams.items() if k not in _URL_KEYS}
        params.update({k: v for k, v in url_params.items() if k in _URL_KEYS})
        return dialect.connect(*cargs, **params)

    @event.listens_for(engine, "do_connect")
    def _do_connect(
        dialect: Dialect, conn_rec: ConnectionPoolEntry, cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> DBAPIConnection:
        snap = source.current()
        try:
            dbapi_conn = _open(dialect, snap, cargs, cparams)
        except dialect.loaded_dbapi.OperationalError as exc:
            if not is_access_denied(exc):
                raise
            fresh = source.refresh(stale=snap)
            if fresh.url(role) == snap.url(role):
                raise
            logger.info(
                "access denied for %s; retrying with refreshed credentials %s",
                snap.url(role).redacted(),
                fresh.url(role).redacted(),
            )
            snap = fresh
            dbapi_conn = _open(dialect, snap, cargs, cparams)
        conn_rec.info[COLOR_INFO_KEY] = snap.color
        return dbapi_conn

    if replace_on_flip:

        @event.listens_for(engine, "checkout")
        def _checkout(
            dbapi_conn: DBAPIConnection, conn_rec: ConnectionPoolEntry, proxy: PoolProxiedConnection
        ) -> None:
            color = conn_rec.info.get(COLOR_INFO_KEY)
            now = source.current().color
            if color is not None and color != now:
                # The pool invalidates this connection and opens a new one (as the current color).
                raise sa_exc.DisconnectionError(
                    f"pooled connection logged in as {color}; the flag names {now}"
                )

    return engine


def connection_color(conn_rec: ConnectionPoolEntry) -> str | None:
    """The color a pooled connection logged in as (``None`` if not opened by this module)."""
    color = conn_rec.info.get(COLOR_INFO_KEY)
    return color if isinstance(color, str) else None
