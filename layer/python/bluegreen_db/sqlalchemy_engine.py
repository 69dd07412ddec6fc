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
import threading
import weakref
from typing import Any

from sqlalchemy import create_engine as _sa_create_engine
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Dialect, Engine, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from bluegreen_db.consumer import BlueGreenConsumer, Snapshot, default_consumer, is_access_denied
from bluegreen_db.dburl import DbUrl
from bluegreen_db.naming import Color, Role

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
    drain_interval: float | None = None,
    **kwargs: Any,
) -> Engine:
    """An engine for ``role`` ("writer" or "reader") that follows the blue/green flag.

    :param consumer: the snapshot source; default a consumer for ``prefix`` if given, else the
        process-wide :func:`~bluegreen_db.consumer.default_consumer`. Share one consumer between a
        server's writer and reader engines: one Parameter Store call per TTL serves both.
    :param drivername: SQLAlchemy driver to use instead of the URL's scheme (``mysql+pymysql``).
    :param replace_on_flip: once the flag has moved, close connections of the old color when they are
        returned to the pool and replace idle ones at their next checkout (connections in use are
        never touched).
    :param drain_interval: if set, a daemon thread checks the flag every ``drain_interval`` seconds and,
        after a flip, replaces the pool's idle connections of the old color, so the old color's
        sessions end even on a server with no traffic. The thread stops when the application calls
        ``engine.dispose()`` or the engine is garbage-collected; it is not inherited across ``fork()``.
    :param kwargs: passed to :func:`sqlalchemy.create_engine` (``pool_size``, ``connect_args``...).

    The engine's ``url`` is the URL at creation without its password (it never holds a credential);
    the credentials each connection really uses come from the consumer at connect time.
    """
    source = (
        consumer if consumer is not None else (BlueGreenConsumer(prefix) if prefix else default_consumer())
    )
    first = source.current()
    initial = _sa_url(first.url(role), drivername)
    # URL.set() ignores None, so build the password-less URL explicitly.
    passwordless = URL.create(
        initial.drivername,
        initial.username,
        None,
        initial.host,
        initial.port,
        initial.database,
        initial.query,
    )
    engine = _sa_create_engine(passwordless, pool_pre_ping=pool_pre_ping, pool_recycle=pool_recycle, **kwargs)
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
            now = _current_color(source)
            if color is not None and now is not None and color != now:
                # The pool invalidates this connection and opens a new one (as the current color).
                raise sa_exc.DisconnectionError(
                    f"pooled connection logged in as {color}; the flag names {now}"
                )

        @event.listens_for(engine, "checkin")
        def _checkin(dbapi_conn: DBAPIConnection | None, conn_rec: ConnectionPoolEntry) -> None:
            color = conn_rec.info.get(COLOR_INFO_KEY)
            now = _current_color(source)
            if dbapi_conn is not None and color is not None and now is not None and color != now:
                # Closed now rather than kept idle: its session would hold the old color "in use".
                conn_rec.invalidate()

    if drain_interval is not None:
        if not replace_on_flip:
            raise ValueError(
                "drain_interval needs replace_on_flip: draining replaces connections at checkout"
            )
        if drain_interval <= 0:
            raise ValueError(f"drain_interval must be > 0 seconds, got {drain_interval}")
        _start_drainer(engine, source, first.color, drain_interval)
    return engine


def _current_color(source: BlueGreenConsumer) -> Color | None:
    """The flag's color for the pool's bookkeeping; None if unknown (never fail a checkout over it)."""
    try:
        return source.current().color
    except Exception:
        logger.warning(
            "could not read the blue/green flag; pooled connections kept as they are", exc_info=True
        )
        return None


def _start_drainer(engine: Engine, source: BlueGreenConsumer, color: Color, interval: float) -> None:
    """Watches the flag for ``engine`` until the engine is disposed of or garbage-collected.

    After a flip it checks out every idle pooled connection at once and returns them: the checkout
    listener replaces each one of the old color (closing its session), through the pool's own API.
    Replacing the pool instead (``Engine.dispose()``) would leak: connections checked out at that
    moment go back to the discarded pool and stay open until garbage collection.
    """
    engine_ref = weakref.ref(engine)
    stop = threading.Event()
    weakref.finalize(engine, stop.set)

    @event.listens_for(engine, "engine_disposed")
    def _disposed(_engine: Engine) -> None:
        stop.set()  # the application disposed of the engine (shutdown): stop watching

    def run() -> None:
        seen = color
        pending = 0  # cycles still to run: on the flip and once more, for connections checked in meanwhile
        while not stop.wait(interval):
            target = engine_ref()
            if target is None:
                return
            try:
                now = source.current().color
                if now != seen:
                    logger.info(
                        "blue/green flag moved from %s to %s: replacing idle pooled connections", seen, now
                    )
                    seen, pending = now, 2
                if pending:
                    pending -= 1
                    _cycle_idle(target)
            except Exception:  # keep watching through a Parameter Store or database outage
                logger.warning("could not drain the old color's idle connections; will retry", exc_info=True)
            del target

    threading.Thread(target=run, name=f"bluegreen-drain-{engine.url.host}", daemon=True).start()


def _cycle_idle(engine: Engine) -> None:
    checkedin = getattr(engine.pool, "checkedin", None)
    idle = checkedin() if callable(checkedin) else 0
    held: list[PoolProxiedConnection] = []
    try:
        for _ in range(int(idle)):
            held.append(engine.raw_connection())  # holding them all: each checkout takes another one
    finally:
        for conn in held:
            conn.close()


def connection_color(conn_rec: ConnectionPoolEntry) -> str | None:
    """The color a pooled connection logged in as (``None`` if not opened by this module)."""
    color = conn_rec.info.get(COLOR_INFO_KEY)
    return color if isinstance(color, str) else None
