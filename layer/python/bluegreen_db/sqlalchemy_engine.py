"""A SQLAlchemy engine whose new connections always log in as the current color.

For long-running servers: instead of reading the flag once at start-up (the seed's design, which needs
a redeploy per password change), the engine's ``do_connect`` hook takes the host, user, password and
database of every *new* DBAPI connection from the consumer's cached snapshot, so a server follows any
number of rotations without a restart. SQLAlchemy is an optional dependency (the ``server`` extra):
only this module imports it, so Lambdas using :mod:`bluegreen_db.consumer` never pay for it.

What happens to connections at a flip:

* connections checked out when the flag moves keep working (MySQL and PostgreSQL keep a session alive
  when its user's password changes, and the rotation does not touch the old color within its grace
  period);
* with ``replace_on_flip`` (default), a pooled connection of the old color is replaced when it is next
  checked out, so the old color's sessions drain as soon as the server is busy, well inside the grace
  period (the rotation refuses, under ``ACTIVE_SESSION_POLICY=fail``, to change the password of a user
  with live sessions);
* ``pool_recycle`` (default 300 s) bounds the age of idle connections; ``pool_pre_ping`` (default on)
  replaces connections the server has closed.

A new connection whose login the database refuses (the driver's ``is_login_denied``) refreshes the
snapshot (bypassing the TTL, rate-limited as in :meth:`BlueGreenConsumer.refresh_after_denied`) and is
retried with the refreshed credentials, as :meth:`BlueGreenConsumer.connect` does.

TLS follows the consumer's settings (:mod:`bluegreen_db.tls`, default ``verify-full``) for every
SQLAlchemy driver :mod:`bluegreen_db.drivers` knows (``mysql+pymysql``, ``postgresql+psycopg``): every
new connection gets the driver's TLS arguments (PyMySQL an ``SSLContext``, libpq an ``sslmode``) and
is checked to be encrypted. ``connect_args`` holding ``ssl``/``ssl*`` options replace them; another
driver needs them (or TLS mode ``disable``). A URL scheme naming no driver (``postgres``) gets the
layer's driver for it (:func:`bluegreen_db.drivers.sqlalchemy_drivername`).

Forked workers (gunicorn ``--preload``, Celery prefork, ``multiprocessing``): in every child,
``os.register_at_fork`` applies SQLAlchemy's own rule to each engine made here,
``engine.dispose(close=False)`` (the child never reuses the parent's pooled sockets, and never closes
them), and restarts the ``drain_interval`` thread, so forked workers drain their own pools.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Any, Protocol

from sqlalchemy import create_engine as _sa_create_engine
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Dialect, Engine, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from bluegreen_db.consumer import BlueGreenConsumer, default_consumer, retry_snapshot
from bluegreen_db.dburl import DbUrl
from bluegreen_db.drivers import Driver, driver_for, sqlalchemy_drivername
from bluegreen_db.errors import UnsupportedSchemeError
from bluegreen_db.naming import Color, Role
from bluegreen_db.snapshot import Snapshot
from bluegreen_db.tls import TlsSettings, has_own_tls

logger = logging.getLogger(__name__)

#: Key of ``ConnectionPoolEntry.info`` holding the color a DBAPI connection logged in as.
COLOR_INFO_KEY = "bluegreen_color"
DEFAULT_POOL_RECYCLE = 300

# The connect() arguments a URL decides; everything else (connect_args, TLS, charset) is left alone.
_URL_KEYS = (
    "host",
    "port",
    "user",
    "username",
    "password",
    "passwd",
    "database",
    "db",
    "dbname",
    "unix_socket",
)


def _sa_url(url: DbUrl, drivername: str | None) -> URL:
    # Without the URL's TLS options: they are the consumer's business (tls_params), not the dialect's.
    sa_url = make_url(url.render()).set(query={})
    return sa_url.set(drivername=drivername) if drivername else sa_url


def known_driver(drivername: str) -> Driver | None:
    """The layer's driver for a SQLAlchemy ``drivername``, or None when it has none."""
    try:
        return driver_for(drivername)
    except UnsupportedSchemeError:
        return None


def tls_params(tls: TlsSettings, params: dict[str, Any], driver: str) -> dict[str, Any]:
    """``params`` with ``tls`` as ``driver`` takes it (callers with their own, see has_own_tls, skip this)."""
    known = known_driver(driver)
    if known is not None:
        return {**params, **known.tls_params(tls)}
    if tls.mode == "disable":
        return params
    raise ValueError(
        f"driver {driver!r}: pass the TLS options in connect_args (ssl=...), or set TLS mode 'disable'"
    )


class FlagSource(Protocol):
    """What the pool listeners need from a consumer, sync or async (run in SQLAlchemy's greenlet)."""

    def current(self) -> Snapshot: ...
    def color_now(self) -> Color | None: ...
    def refresh_after_denied(self, stale: Snapshot) -> Snapshot: ...
    def open(self, dialect: Dialect, url: DbUrl, cargs: tuple[Any, ...], params: dict[str, Any]) -> Any: ...


class _SyncSource:
    def __init__(self, consumer: BlueGreenConsumer, driver: str) -> None:
        self.consumer = consumer
        self.driver = driver

    def current(self) -> Snapshot:
        return self.consumer.current()

    def color_now(self) -> Color | None:
        return _current_color(self.consumer)

    def refresh_after_denied(self, stale: Snapshot) -> Snapshot:
        return self.consumer.refresh_after_denied(stale)

    def open(self, dialect: Dialect, url: DbUrl, cargs: tuple[Any, ...], params: dict[str, Any]) -> Any:
        if has_own_tls(params):
            return dialect.connect(*cargs, **params)
        tls = self.consumer.tls_for(url)
        known = known_driver(self.driver)
        if known is not None:
            params = {**known.CONNECT_DEFAULTS, **params}
        conn = dialect.connect(*cargs, **tls_params(tls, params, self.driver))
        if known is not None:
            known.ensure_encrypted(conn, tls, f"{url.host}:{url.port}")
        return conn


def follow_flag(engine: Engine, role: Role, source: FlagSource, replace_on_flip: bool) -> None:
    """Installs the listeners that make ``engine`` (an async engine's ``sync_engine`` too) follow the flag.

    ``do_connect`` logs every new DBAPI connection in as the current color (retrying once after a
    refused login, rate-limited by the consumer); with ``replace_on_flip``, ``checkout`` replaces pooled
    connections of the old color and ``checkin`` closes them.
    """

    def _open(dialect: Dialect, snap: Snapshot, cargs: tuple[Any, ...], cparams: dict[str, Any]) -> Any:
        url = snap.url(role)
        _, url_params = dialect.create_connect_args(_sa_url(url, f"{dialect.name}+{dialect.driver}"))
        params = {k: v for k, v in cparams.items() if k not in _URL_KEYS}
        params.update({k: v for k, v in url_params.items() if k in _URL_KEYS})
        return source.open(dialect, url, cargs, params)

    def _do_connect(
        dialect: Dialect, conn_rec: ConnectionPoolEntry, cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> DBAPIConnection:
        snap = source.current()
        try:
            dbapi_conn = _open(dialect, snap, cargs, cparams)
        except dialect.loaded_dbapi.OperationalError as exc:
            fresh = retry_snapshot(source.refresh_after_denied, snap, role, exc)
            if fresh is None:
                raise
            snap = fresh
            dbapi_conn = _open(dialect, snap, cargs, cparams)
        conn_rec.info[COLOR_INFO_KEY] = snap.color
        return dbapi_conn  # type: ignore[no-any-return]

    event.listen(engine, "do_connect", _do_connect)
    if not replace_on_flip:
        return

    def _checkout(
        dbapi_conn: DBAPIConnection, conn_rec: ConnectionPoolEntry, proxy: PoolProxiedConnection
    ) -> None:
        color = conn_rec.info.get(COLOR_INFO_KEY)
        now = source.color_now()
        if color is not None and now is not None and color != now:
            # The pool invalidates this connection and opens a new one (as the current color).
            raise sa_exc.DisconnectionError(f"pooled connection logged in as {color}; the flag names {now}")

    def _checkin(dbapi_conn: DBAPIConnection | None, conn_rec: ConnectionPoolEntry) -> None:
        color = conn_rec.info.get(COLOR_INFO_KEY)
        now = source.color_now()
        if dbapi_conn is not None and color is not None and now is not None and color != now:
            # Closed now rather than kept idle: its session would hold the old color "in use".
            conn_rec.invalidate()

    event.listen(engine, "checkout", _checkout)
    event.listen(engine, "checkin", _checkin)


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
    :param drivername: SQLAlchemy driver to use instead of the URL's scheme (``mysql+pymysql``,
        ``postgresql+psycopg``; a scheme naming no driver gets the layer's, ``postgres`` psycopg 3).
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
    initial = _sa_url(first.url(role), drivername or sqlalchemy_drivername(first.url(role).scheme))
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

    connect_args = kwargs.get("connect_args", {})
    if not has_own_tls(connect_args):
        tls_params(source.tls_for(first.url(role)), connect_args, driver)  # unsupported: fail now
    follow_flag(engine, role, _SyncSource(source, driver), replace_on_flip)

    if drain_interval is not None:
        if not replace_on_flip:
            raise ValueError(
                "drain_interval needs replace_on_flip: draining replaces connections at checkout"
            )
        if drain_interval <= 0:
            raise ValueError(f"drain_interval must be > 0 seconds, got {drain_interval}")
        _start_drainer(engine, source, first.color, drain_interval)
    else:
        _engines[engine] = None
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


class _Drainer:
    """Watches the flag for one engine until the engine is disposed of or garbage-collected.

    After a flip it checks out every idle pooled connection at once and returns them: the checkout
    listener replaces each one of the old color (closing its session), through the pool's own API.
    Replacing the pool instead (``Engine.dispose()``) would leak: connections checked out at that
    moment go back to the discarded pool and stay open until garbage collection.

    A forked child has no threads but the one that forked: :func:`_restart_drainers_in_child` starts
    a new watcher there for every engine still watched, so forked workers drain their own pools.
    """

    def __init__(self, engine: Engine, source: BlueGreenConsumer, color: Color, interval: float) -> None:
        self._engine_ref = weakref.ref(engine)
        self._source = source
        self._seen = color
        self._interval = interval
        self._stop = threading.Event()
        self._name = f"bluegreen-drain-{engine.url.host}"
        self.stopped = False

    def start(self) -> None:
        threading.Thread(target=self._run, args=(self._stop,), name=self._name, daemon=True).start()

    def stop(self) -> None:
        self.stopped = True
        self._stop.set()

    def restart_in_child(self) -> None:
        if self.stopped or self._engine_ref() is None:
            return
        self._stop = threading.Event()  # the parent's may have had its lock taken at fork time
        self.start()

    def _run(self, stop: threading.Event) -> None:
        pending = 0  # cycles still to run: on the flip and once more, for connections checked in meanwhile
        while not stop.wait(self._interval):
            target = self._engine_ref()
            if target is None:
                return
            try:
                now = self._source.current().color
                if now != self._seen:
                    logger.info(
                        "blue/green flag moved from %s to %s: replacing idle pooled connections",
                        self._seen,
                        now,
                    )
                    self._seen, pending = now, 2
                if pending:
                    pending -= 1
                    _cycle_idle(target)
            except Exception:  # keep watching through a Parameter Store or database outage
                logger.warning("could not drain the old color's idle connections; will retry", exc_info=True)
            del target


_engines: weakref.WeakKeyDictionary[Engine, _Drainer | None] = weakref.WeakKeyDictionary()
_forking = False  # set while the at-fork handler disposes of the child's pools


def _start_drainer(engine: Engine, source: BlueGreenConsumer, color: Color, interval: float) -> None:
    drainer = _Drainer(engine, source, color, interval)
    _engines[engine] = drainer  # the drainer lives as long as its engine
    weakref.finalize(engine, drainer.stop)

    @event.listens_for(engine, "engine_disposed")
    def _disposed(_engine: Engine) -> None:
        if not _forking:
            drainer.stop()  # the application disposed of the engine (shutdown): stop watching

    drainer.start()


def _after_fork_in_child() -> None:
    global _forking  # noqa: PLW0603 - the child runs one thread here
    _forking = True
    try:
        for engine, drainer in list(_engines.items()):
            engine.dispose(close=False)  # SQLAlchemy's rule for a forked child: a new, empty pool
            if drainer is not None:
                drainer.restart_in_child()
    finally:
        _forking = False


if hasattr(os, "register_at_fork"):  # POSIX only
    os.register_at_fork(after_in_child=_after_fork_in_child)


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
