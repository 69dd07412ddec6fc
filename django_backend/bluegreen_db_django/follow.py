"""What every engine's ``DatabaseWrapper`` of this backend does the same way: follow the flag.

:class:`FlagFollowingWrapper` is mixed in before Django's own wrapper of the engine
(:mod:`bluegreen_db_django.mysql`, :mod:`bluegreen_db_django.postgresql`); each engine module says
only how a URL becomes its driver's connect arguments (:meth:`~FlagFollowingWrapper.bluegreen_params`)
and how an open connection is checked to be encrypted (:meth:`~FlagFollowingWrapper.bluegreen_check`).

* ``get_connection_params``: user, password, host, port and database come from the consumer's cached
  snapshot (one ``GetParameters`` per TTL per process, shared by every thread's connection), TLS from
  the consumer's settings (:mod:`bluegreen_db.tls`, default ``verify-full``);
* ``get_new_connection``: a refused login (as the URL's driver tells it: MySQL 1045, PostgreSQL
  28P01) refreshes the snapshot (at most once per snapshot and per interval,
  :meth:`~bluegreen_db.consumer.BlueGreenConsumer.refresh_after_denied`) and retries once with the
  new credentials; a connection that should be encrypted and is not is closed;
* ``ensure_connection`` (Django calls it before every cursor) and ``close_if_unusable_or_obsolete``
  (at the start and end of every request): a persistent connection (``CONN_MAX_AGE``) of a color the
  flag has left is closed, outside transactions, and the next query reconnects as the current color.
  So the old color's sessions end at the next query after a refresh, well inside the rotation's
  grace period (``ACTIVE_SESSION_POLICY=fail`` refuses to change the password of a user with live
  sessions), also where no request signal fires (Django's test client disconnects
  ``close_old_connections``; Celery tasks and management commands have no requests). The check is a
  read of the cached snapshot: no I/O within the TTL.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from bluegreen_db.consumer import BlueGreenConsumer, retry_snapshot
from bluegreen_db.dburl import DbUrl
from bluegreen_db.naming import resolve_prefix
from bluegreen_db.snapshot import Snapshot, check_role
from bluegreen_db.tls import has_own_tls

logger = logging.getLogger(__name__)

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


class FlagFollowingWrapper:
    """Mixed in before a Django ``DatabaseWrapper``: logs in as the current color (see the module doc).

    The Django wrapper after it in the MRO provides ``get_connection_params``, ``get_new_connection``
    and ``Database`` (the DB-API module, whose ``OperationalError`` a refused login raises).
    """

    settings_dict: dict[str, Any]
    connection: Any
    in_atomic_block: bool
    autocommit: bool
    Database: Any

    def __init__(self, settings_dict: dict[str, Any], alias: str = "default") -> None:
        super().__init__(settings_dict, alias)  # type: ignore[call-arg]
        self._bluegreen_options: dict[str, Any] = dict(settings_dict.get("BLUEGREEN") or {})
        self._bluegreen_role = check_role(self._bluegreen_options.get("role", "writer"))
        self._bluegreen_snapshot: Snapshot | None = None
        self._bluegreen_color: str | None = None
        self._bluegreen_consumer: BlueGreenConsumer | None = None

    # -- what each engine module says -------------------------------------------------------------

    def bluegreen_params(self, django_params: dict[str, Any], url: DbUrl) -> dict[str, Any]:
        """Django's connect arguments with ``url``'s credentials and the consumer's TLS."""
        raise NotImplementedError

    def bluegreen_check(self, conn: Any, conn_params: dict[str, Any], url: DbUrl) -> None:
        """Closes ``conn`` and raises if it should be encrypted and is not."""
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------------------------

    @property
    def bluegreen_consumer(self) -> BlueGreenConsumer:
        # Looked up once per wrapper, not on every query (_close_if_old_color runs before each cursor).
        if self._bluegreen_consumer is None:
            self._bluegreen_consumer = consumer_for(self._bluegreen_options)
        return self._bluegreen_consumer

    @property
    def _own_tls(self) -> bool:
        """TLS options in ``OPTIONS`` (``ssl``/``ssl_*``, ``sslmode``...) replace the consumer's."""
        return has_own_tls(self.settings_dict.get("OPTIONS", {}))

    def get_connection_params(self) -> dict[str, Any]:
        snap = self.bluegreen_consumer.current()
        self._bluegreen_snapshot = snap
        url = snap.url(self._bluegreen_role)
        return self.bluegreen_params(self._django_params(url), url)

    def _django_params(self, url: DbUrl) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()  # type: ignore[misc]
        return params

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        snap = self._bluegreen_snapshot or self.bluegreen_consumer.current()
        role = self._bluegreen_role
        try:
            conn = super().get_new_connection(conn_params)  # type: ignore[misc]
        except self.Database.OperationalError as exc:
            fresh = retry_snapshot(self.bluegreen_consumer.refresh_after_denied, snap, role, exc)
            if fresh is None:
                raise
            snap = fresh
            conn_params = self.bluegreen_params(dict(conn_params), snap.url(role))
            conn = super().get_new_connection(conn_params)  # type: ignore[misc]
        self.bluegreen_check(conn, conn_params, snap.url(role))
        self._bluegreen_color = snap.color
        return conn

    def ensure_connection(self) -> None:
        self._close_if_old_color()
        super().ensure_connection()  # type: ignore[misc]

    def close_if_unusable_or_obsolete(self) -> None:
        super().close_if_unusable_or_obsolete()  # type: ignore[misc]
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
            self.close()  # type: ignore[attr-defined]
