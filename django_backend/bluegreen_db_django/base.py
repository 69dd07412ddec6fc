"""``DatabaseWrapper``: Django's MySQL backend with the credentials of the flag's current color.

What it overrides, and why:

* ``get_connection_params``: user, password, host, port and database come from the consumer's cached
  snapshot (one ``GetParameters`` per TTL per process, shared by every thread's connection), TLS from
  the consumer's settings (:mod:`bluegreen_db.tls`, default ``verify-full``);
* ``get_new_connection``: a refused login (MySQL 1045, as the URL's driver tells it) refreshes the
  snapshot (at most once per snapshot and per interval,
  :meth:`~bluegreen_db.consumer.BlueGreenConsumer.refresh_after_denied`) and retries once
  with the new credentials; a PyMySQL connection that should be encrypted and is not is closed;
* ``ensure_connection`` (Django calls it before every cursor) and ``close_if_unusable_or_obsolete``
  (at the start and end of every request): a persistent connection (``CONN_MAX_AGE``) of a color the
  flag has left is closed, outside transactions, and the next query reconnects as the current color.
  So the old color's sessions end at the next query after a refresh, well inside the rotation's
  grace period (``ACTIVE_SESSION_POLICY=fail`` refuses to change the password of a user with live
  sessions), also where no request signal fires (Django's test client disconnects
  ``close_old_connections``; Celery tasks and management commands have no requests). The check is a
  read of the cached snapshot: no I/O within the TTL.

Driver: mysqlclient (``MySQLdb``) when installed; otherwise PyMySQL registered as ``MySQLdb`` with all
its submodules (:mod:`bluegreen_db_django.dbapi`: ``pymysql.install_as_MySQLdb()`` alone would make
a second copy of ``pymysql.err``), only when no real MySQLdb exists, so it never shadows mysqlclient.
PyMySQL 1.2 reports ``version_info`` 2.2.8 for Django's driver check (Django 5.2 asks for 1.4.3+), and
is what the layer's sync path uses, so TLS and error codes agree.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from bluegreen_db.consumer import BlueGreenConsumer, retry_snapshot
from bluegreen_db.dburl import DbUrl
from bluegreen_db.drivers import pymysql as pymysql_driver
from bluegreen_db.naming import resolve_prefix
from bluegreen_db.snapshot import Snapshot, check_role
from bluegreen_db.tls import TlsSettings, has_own_tls
from bluegreen_db_django.dbapi import install

MySQLdb = install()

from django.db.backends.mysql.base import DatabaseWrapper as MySQLDatabaseWrapper  # noqa: E402

logger = logging.getLogger(__name__)

_IS_PYMYSQL = getattr(MySQLdb, "__name__", "") == "pymysql"
_MYSQLCLIENT_SSL_MODES = {
    "disable": "DISABLED",
    "require": "REQUIRED",
    "verify-ca": "VERIFY_CA",
    "verify-full": "VERIFY_IDENTITY",
}
_consumers: dict[tuple[Any, ...], BlueGreenConsumer] = {}
_consumers_lock = threading.Lock()


def consumer_for(options: dict[str, Any]) -> BlueGreenConsumer:
    """One consumer per process for each distinct ``BLUEGREEN`` setting (threads share its snapshot)."""
    key = (
        resolve_prefix(options.get("prefix")),
        options.get("ttl"),
        options.get("tls_mode"),
        options.get("tls_ca_file"),
        options.get("refresh_timeout"),
    )
    with _consumers_lock:
        consumer = _consumers.get(key)
        if consumer is None:
            consumer = BlueGreenConsumer(
                key[0],
                ttl=key[1],
                tls_mode=key[2],
                tls_ca_file=key[3],
                refresh_timeout=key[4],
            )
            _consumers[key] = consumer
        return consumer


def tls_params(tls: TlsSettings) -> dict[str, Any]:
    """The connect arguments that give ``tls`` to the DB-API driver in use (PyMySQL or mysqlclient)."""
    if _IS_PYMYSQL:
        return pymysql_driver.tls_params(tls)
    params: dict[str, Any] = {"ssl_mode": _MYSQLCLIENT_SSL_MODES[tls.mode]}
    if tls.ca_file and tls.mode != "disable":
        params["ssl"] = {"ca": tls.ca_file}
    return params


class DatabaseWrapper(MySQLDatabaseWrapper):  # type: ignore[misc]
    """Django's MySQL ``DatabaseWrapper``, logging in as the current color (see the module doc)."""

    def __init__(self, settings_dict: dict[str, Any], alias: str = "default") -> None:
        super().__init__(settings_dict, alias)
        self._bluegreen_options: dict[str, Any] = dict(settings_dict.get("BLUEGREEN") or {})
        self._bluegreen_role = check_role(self._bluegreen_options.get("role", "writer"))
        self._bluegreen_snapshot: Snapshot | None = None
        self._bluegreen_color: str | None = None
        self._bluegreen_consumer: BlueGreenConsumer | None = None

    @property
    def bluegreen_consumer(self) -> BlueGreenConsumer:
        # Looked up once per wrapper, not on every query (_close_if_old_color runs before each cursor).
        if self._bluegreen_consumer is None:
            self._bluegreen_consumer = consumer_for(self._bluegreen_options)
        return self._bluegreen_consumer

    @property
    def _own_tls(self) -> bool:
        """An ``ssl``/``ssl_*`` in ``OPTIONS`` replaces the consumer's TLS settings."""
        return has_own_tls(self.settings_dict.get("OPTIONS", {}))

    def get_connection_params(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = super().get_connection_params()
        snap = self.bluegreen_consumer.current()
        self._bluegreen_snapshot = snap
        return self._with_url(kwargs, snap.url(self._bluegreen_role))

    def _with_url(self, kwargs: dict[str, Any], url: DbUrl) -> dict[str, Any]:
        kwargs = {k: v for k, v in kwargs.items() if k not in ("unix_socket", "passwd", "db")}
        kwargs.update(user=url.username, password=url.password, host=url.host, port=url.port)
        kwargs["database"] = self.settings_dict.get("NAME") or url.database or None
        if not self._own_tls:
            kwargs.update(tls_params(self.bluegreen_consumer.tls_for(url)))
        return kwargs

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        snap = self._bluegreen_snapshot or self.bluegreen_consumer.current()
        role = self._bluegreen_role
        try:
            conn = super().get_new_connection(conn_params)
        except MySQLdb.OperationalError as exc:
            fresh = retry_snapshot(self.bluegreen_consumer.refresh_after_denied, snap, role, exc)
            if fresh is None:
                raise
            snap = fresh
            conn = super().get_new_connection(self._with_url(dict(conn_params), snap.url(role)))
        url = snap.url(role)
        if _IS_PYMYSQL and not self._own_tls:
            tls = self.bluegreen_consumer.tls_for(url)
            pymysql_driver.ensure_encrypted(conn, tls, f"{url.host}:{url.port}")
        self._bluegreen_color = snap.color
        return conn

    def ensure_connection(self) -> None:
        self._close_if_old_color()
        super().ensure_connection()

    def close_if_unusable_or_obsolete(self) -> None:
        super().close_if_unusable_or_obsolete()
        self._close_if_old_color()

    def _close_if_old_color(self) -> None:
        if self.connection is None or self.in_atomic_block or self._bluegreen_color is None:
            return
        if not self.autocommit:
            return  # a transaction may be open: never cut it
        try:
            color = self.bluegreen_consumer.current().color
        except Exception:  # never fail a query over the bookkeeping; the next check retries
            logger.warning("could not read the blue/green flag; keeping the connection", exc_info=True)
            return
        if color != self._bluegreen_color:
            logger.info("closing a %s connection: the flag names %s", self._bluegreen_color, color)
            self.close()
