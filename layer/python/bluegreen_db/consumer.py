"""The consumer side: read the blue/green flag and the URLs once per TTL, connect as the current color.

One :class:`BlueGreenConsumer` reads the flag and both colors' writer and reader URLs in a single
``GetParameters`` call (``WithDecryption=True``) and keeps that :class:`Snapshot` for a TTL, so a warm
Lambda pays no Parameter Store call per invocation and a server pays one call per TTL, however many
threads it runs. The TTL must stay well under the rotation's ``ROTATION_GRACE_SECONDS``: the rotation
never changes the password of a color that left the flag less than the grace period ago, so a consumer
that refreshes within the grace period never holds a changed password.

The consumer is composed of one module per concern:

* :mod:`bluegreen_db.settings`: arguments and environment, resolved and checked once;
* :mod:`bluegreen_db.source`: the ``GetParameters`` call, the boto3 client and its fork handling;
* :mod:`bluegreen_db.snapshot`: the flag and the URLs of one read;
* :mod:`bluegreen_db.refresh`: the single-flight TTL cache (bounded waits, stale-if-error, fork
  safety, at most one forced refresh per snapshot and per interval after a refused login);
* :mod:`bluegreen_db.drivers`: the database driver, chosen by the URL's scheme.

A refused login (the driver's :func:`is_login_denied`) forces a refresh, at most once per snapshot and
at most once per ``forced_refresh_interval`` seconds (default 5): a wrong password in Parameter Store
costs one ``GetParameters`` per interval however many connections fail, instead of one per connection.

Why not Powertools' ``SSMProvider.get_parameters_by_name``? It does issue one ``GetParameters`` call
when every name is decrypted, but (checked against aws-lambda-powertools 3.37 ``parameters/ssm.py`` and
``base.py``):

* it caches each *name* with its own expiry and, on a partial hit, fetches only the expired names, so a
  cached flag can be paired with URLs from another fetch; this module caches the five values as one
  snapshot taken by one call, with one TTL;
* its cache has no lock: when the TTL lapses every thread of a server calls ``GetParameters`` at once;
  here one thread refreshes while the others keep serving the just-expired snapshot;
* ``get_parameters_by_name`` has no ``force_fetch``: the access-denied path could only clear the whole
  provider's cache, and concurrent refused logins would each refetch; here a forced refresh is
  coalesced per snapshot generation;
* it swallows ``InvalidKeyId`` and ``InternalServerError`` into an error list that fail-fast mode then
  drops, so a KMS problem would surface as "parameter missing"; here it surfaces as
  :class:`~bluegreen_db.errors.ParameterStoreDecryptError`, naming the fix;
* it would make the layer (and every server using the SQLAlchemy engine) depend on Powertools, and add
  its import time to every cold start, for what is one boto3 call.

Nothing here logs, reprs or raises a URL with its password: :class:`~bluegreen_db.dburl.DbUrl` and
:class:`Snapshot` render redacted, and errors name parameters, never values.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from bluegreen_db.dburl import DbUrl
from bluegreen_db.drivers import Driver, driver_for
from bluegreen_db.errors import BlueGreenError, ParameterInvalidError, ParameterMissingError
from bluegreen_db.naming import Color, ParameterNames, Role
from bluegreen_db.refresh import SnapshotCache, newer_credentials
from bluegreen_db.settings import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_FORCED_REFRESH_INTERVAL,
    DEFAULT_STALE_IF_ERROR,
    ConsumerSettings,
    RetryMode,
)
from bluegreen_db.snapshot import Snapshot, check_role
from bluegreen_db.source import ParameterSource
from bluegreen_db.tls import TlsSettings

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_ssm import SSMClient

__all__ = [
    "BlueGreenConsumer",
    "BlueGreenError",
    "ParameterInvalidError",
    "ParameterMissingError",
    "Snapshot",
    "connect",
    "current",
    "default_consumer",
    "get_color",
    "get_db_url",
]


def retry_snapshot(
    refresh_after_denied: Callable[[Snapshot], Snapshot], snap: Snapshot, role: Role, exc: BaseException
) -> Snapshot | None:
    """After a connect with ``snap`` failed with ``exc``: the snapshot to retry with, or None to raise.

    Only a refused login (as the URL's driver tells it) is retried, and only when a refresh
    (rate-limited by the consumer) finds different credentials: the one rule every sync path (the
    consumer, SQLAlchemy, Django) follows.
    """
    if not driver_for(snap.url(role)).is_login_denied(exc):
        return None
    return newer_credentials(snap, refresh_after_denied(snap), role)


class BlueGreenConsumer:
    """Reads the blue/green parameters under one prefix and opens connections as the current color.

    Thread-safe and fork-safe; one instance per process (or per prefix) is meant to be shared.
    Construction does no I/O: the boto3 client is made on the first refresh, once per process.

    :param prefix: the parameter prefix; default ``PARAMETER_PREFIX``, else ``/db/{ENV}``.
    :param ttl: seconds a snapshot is served from memory; default ``BLUEGREEN_CACHE_TTL``, else 60.
        Keep it well under the rotation's ``ROTATION_GRACE_SECONDS`` (default 900).
    :param client: an SSM client to use instead of building one. Its configuration is kept; the
        refresh timeout still bounds every wait. After a fork the child rebuilds it from its region,
        endpoint and ``Config`` with the default credential chain (or calls ``client_factory``).
    :param client_factory: builds the SSM client (first use, and again in every forked child).
    :param retry_mode: botocore retry mode, ``standard`` or ``adaptive``; default ``AWS_RETRY_MODE``,
        else ``standard``.
    :param max_attempts: total attempts per call including retries; default ``AWS_MAX_ATTEMPTS``, else 5.
    :param boto_config: extra botocore ``Config`` merged over the defaults (its ``retries`` wins).
    :param refresh_timeout: seconds any caller waits for a refresh; default
        ``BLUEGREEN_REFRESH_TIMEOUT``, else 5. Past it the caller gets the stale snapshot (within
        ``stale_if_error``) or :class:`~bluegreen_db.errors.RefreshTimeoutError`. It is shorter than
        botocore's whole retry budget (3 s connect + 5 s read per attempt, 5 attempts, with backoff).
    :param forced_refresh_interval: least seconds between two refreshes forced by a refused login.
    :param connect_kwargs: defaults for every driver ``connect`` (e.g. ``charset``), under per-call
        kwargs. An ``ssl``/``ssl_*`` key here replaces the TLS settings for these connections.
    :param tls_mode: ``disable``, ``require``, ``verify-ca`` or ``verify-full``; default
        ``BLUEGREEN_DB_TLS_MODE``, else ``verify-full`` (see :mod:`bluegreen_db.tls`).
    :param tls_ca_file: CA bundle; default ``BLUEGREEN_DB_TLS_CA_FILE``, else the system bundle.
    :param stale_if_error: seconds past the TTL a snapshot may still be served when Parameter Store
        cannot be read (default 300; 0 disables). Never makes things worse: without it, the same
        outage would fail every connection; with it, connections fail only if a rotation happened too.
    :param clock: monotonic clock, for tests.
    :param environ: the environment to read settings from (default ``os.environ``), for tests.
    """

    def __init__(
        self,
        prefix: str | None = None,
        *,
        ttl: float | None = None,
        client: SSMClient | None = None,
        client_factory: Callable[[], SSMClient] | None = None,
        retry_mode: RetryMode | None = None,
        max_attempts: int | None = None,
        boto_config: Config | None = None,
        refresh_timeout: float | None = None,
        forced_refresh_interval: float = DEFAULT_FORCED_REFRESH_INTERVAL,
        connect_kwargs: Mapping[str, Any] | None = None,
        tls_mode: str | None = None,
        tls_ca_file: str | None = None,
        stale_if_error: float = DEFAULT_STALE_IF_ERROR,
        clock: Callable[[], float] = time.monotonic,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        settings = ConsumerSettings.resolve(
            prefix,
            ttl=ttl,
            refresh_timeout=refresh_timeout,
            retry_mode=retry_mode,
            max_attempts=max_attempts,
            forced_refresh_interval=forced_refresh_interval,
            stale_if_error=stale_if_error,
            tls_mode=tls_mode,
            tls_ca_file=tls_ca_file,
            environ=environ,
        )
        self.settings = settings
        self._connect_kwargs: dict[str, Any] = {"connect_timeout": DEFAULT_CONNECT_TIMEOUT}
        self._connect_kwargs.update(connect_kwargs or {})
        self._source = ParameterSource(
            settings.names,
            retry_mode=settings.retry_mode,
            max_attempts=settings.max_attempts,
            boto_config=boto_config,
            client=client,
            client_factory=client_factory,
        )
        self._cache = SnapshotCache(
            self._source.fetch,
            label=settings.names.prefix,
            ttl=settings.ttl,
            refresh_timeout=settings.refresh_timeout,
            stale_if_error=settings.stale_if_error,
            forced_refresh_interval=settings.forced_refresh_interval,
            clock=clock,
        )

    # -- configuration ---------------------------------------------------------------------------

    @property
    def names(self) -> ParameterNames:
        return self.settings.names

    @property
    def ttl(self) -> float:
        return self.settings.ttl

    @property
    def refresh_timeout(self) -> float:
        return self.settings.refresh_timeout

    @property
    def retry_mode(self) -> RetryMode:
        return self.settings.retry_mode

    @property
    def tls(self) -> TlsSettings:
        """The TLS settings for connections (a URL's own options apply over them)."""
        return self.settings.tls

    @property
    def refreshes(self) -> int:
        """How many snapshots this consumer has fetched (each one GetParameters call)."""
        return self._cache.generation

    @property
    def parameter_calls(self) -> int:
        """How many GetParameters calls this consumer has made (botocore retries not counted)."""
        return self._source.calls

    def __repr__(self) -> str:
        snap = self._cache.cached
        state = f"color={snap.color!r}, generation={snap.generation}" if snap else "not loaded"
        return f"BlueGreenConsumer(prefix={self.names.prefix!r}, ttl={self.ttl}, {state})"

    # -- reading ---------------------------------------------------------------------------------

    @property
    def client(self) -> SSMClient:
        """The SSM client, built on first use with botocore's standard/adaptive retries."""
        return self._source.client

    @property
    def cached(self) -> Snapshot | None:
        """The snapshot in memory, however old (no I/O): for callers that must never wait."""
        return self._cache.cached

    @property
    def refreshing(self) -> bool:
        """Whether a GetParameters call is under way in a worker thread."""
        return self._cache.refreshing

    @property
    def connect_timeout(self) -> float:
        """Seconds a database connect may take (``connect_kwargs['connect_timeout']``, default 5)."""
        return float(self._connect_kwargs.get("connect_timeout") or DEFAULT_CONNECT_TIMEOUT)

    def is_fresh(self, snap: Snapshot | None) -> bool:
        """True while ``snap`` is younger than the TTL."""
        return self._cache.is_fresh(snap)

    def serves_while_refreshing(self, snap: Snapshot) -> bool:
        """Whether a caller holding ``snap`` gets it at once while another caller refreshes: when it
        is less than two TTLs old, or Parameter Store is failing and it is still within
        ``stale_if_error``."""
        return self._cache.serves_while_refreshing(snap)

    def current(self) -> Snapshot:
        """The cached snapshot, refreshed when older than the TTL; never waits past the refresh timeout.

        When the TTL lapses, one caller starts a refresh (a worker thread making the one call) and
        waits for it at most ``refresh_timeout`` seconds. Every other caller holding a snapshot less
        than two TTLs old, or any usable snapshot while Parameter Store is failing, gets it at once:
        its credentials are still valid, since the TTL is far inside the rotation's grace period.
        Callers with nothing usable wait for the same refresh, as long at most.

        If the refresh fails or times out, a snapshot younger than ``ttl + stale_if_error`` is served
        instead, with a warning, and no new refresh starts for ``min(ttl, 5)`` seconds; while
        Parameter Store keeps failing, the next refreshes run in the background and no caller waits
        for them. Configuration errors (a missing or malformed parameter) are always raised.
        """
        return self._cache.current()

    def refresh(self, stale: Snapshot | None = None) -> Snapshot:
        """Fetches a new snapshot now, bypassing the TTL (bounded by the refresh timeout).

        With ``stale``, the refresh is coalesced: if another caller already replaced that snapshot,
        its result is returned without a new call (many connections failing at once cost one call).
        Errors are raised, never hidden behind the stale snapshot.
        """
        return self._cache.refresh(stale)

    def refresh_after_denied(self, stale: Snapshot) -> Snapshot:
        """A fresher snapshot after the database refused ``stale``'s credentials.

        At most one refresh per snapshot, and at most one per ``forced_refresh_interval`` seconds: a
        wrong password in Parameter Store must not turn every failing connection into a
        ``GetParameters`` call. Returns ``stale`` itself (or whatever replaced it) when no refresh is
        allowed or the refresh fails; the caller then raises the database's error.
        """
        return self._cache.refresh_after_denied(stale)

    def invalidate(self) -> None:
        """Drops the cached snapshot; the next read fetches."""
        self._cache.invalidate()

    @property
    def color(self) -> Color:
        """The flag's color (cached)."""
        return self.current().color

    def url(self, role: Role = "writer") -> DbUrl:
        """The current color's URL for ``role``, parsed; its repr is redacted."""
        return self.current().url(role)

    def db_url(self, role: Role = "writer") -> str:
        """The current color's URL for ``role`` as a string. It holds the password: never log it."""
        return self.current().url(role).render()

    # -- connecting ------------------------------------------------------------------------------

    def tls_for(self, url: DbUrl) -> TlsSettings:
        """The TLS settings for ``url``: the consumer's, with the URL's own options over them."""
        return self.tls.override(url.tls_mode, url.tls_ca_file)

    def connect(self, role: Role = "writer", **kwargs: Any) -> Any:
        """A connection as the current color's user, over TLS unless the settings disable it.

        The driver is the one the URL's scheme names (:mod:`bluegreen_db.drivers`; ``mysql+pymysql``
        gives a PyMySQL connection, ``postgresql+psycopg`` a psycopg 3 one). When the database
        refuses the login, the snapshot is refreshed (see :meth:`refresh_after_denied`) and the
        connection retried if Parameter Store holds different credentials; otherwise the original
        error is raised. ``kwargs`` go to the driver's
        ``connect`` (over ``connect_kwargs``).
        """
        role = check_role(role)
        snap = self.current()
        url = snap.url(role)
        driver = driver_for(url)
        try:
            return self._open(driver, url, kwargs)
        except Exception as exc:
            if not driver.is_login_denied(exc):
                raise
            fresh = newer_credentials(snap, self.refresh_after_denied(snap), role)
            if fresh is None:
                raise
        url = fresh.url(role)
        return self._open(driver_for(url), url, kwargs)

    def _open(self, driver: Driver, url: DbUrl, kwargs: Mapping[str, Any]) -> Any:
        return driver.connect(url, self.tls_for(url), **{**self._connect_kwargs, **kwargs})


_default: BlueGreenConsumer | None = None
_default_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _default_lock  # noqa: PLW0603 - a lock held by a parent thread at fork time is never released
    _default_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX only
    os.register_at_fork(after_in_child=_after_fork_in_child)


def default_consumer() -> BlueGreenConsumer:
    """The process-wide consumer configured from the environment, made on first use."""
    global _default  # noqa: PLW0603 - one shared cache per process is the point
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = BlueGreenConsumer()
    return _default


def connect(role: Role = "writer", **kwargs: Any) -> Any:
    """``default_consumer().connect(role, **kwargs)``: the one call a Lambda handler needs."""
    return default_consumer().connect(role, **kwargs)


def current() -> Snapshot:
    """``default_consumer().current()``."""
    return default_consumer().current()


def get_color() -> Color:
    """The flag's color, through the default consumer's cache."""
    return default_consumer().current().color


def get_db_url(role: Role = "writer") -> str:
    """The current color's URL for ``role`` (holds the password: never log it)."""
    return default_consumer().db_url(role)
