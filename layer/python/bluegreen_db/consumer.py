"""The consumer side: read the blue/green flag and the URLs once per TTL, connect as the current color.

One :class:`BlueGreenConsumer` reads the flag and both colors' writer and reader URLs in a single
``GetParameters`` call (``WithDecryption=True``) and keeps that :class:`Snapshot` for a TTL, so a warm
Lambda pays no Parameter Store call per invocation and a server pays one call per TTL, however many
threads it runs. The TTL must stay well under the rotation's ``ROTATION_GRACE_SECONDS``: the rotation
never changes the password of a color that left the flag less than the grace period ago, so a consumer
that refreshes within the grace period never holds a changed password.

Refreshes are single-flight and bounded (see :meth:`BlueGreenConsumer.current`): the call runs in a
worker thread, at most one at a time per consumer; the caller that started it waits at most
``refresh_timeout`` seconds (default 5, ``BLUEGREEN_REFRESH_TIMEOUT``), shorter than botocore's whole
retry budget (3 s connect + 5 s read per attempt, 5 attempts, with backoff: 40 s and more), and every
other caller holding a usable snapshot gets it at once. A hung Parameter Store therefore costs one
caller ``refresh_timeout`` per back-off period, and nobody else anything.

Fork safety (gunicorn ``--preload``, Celery prefork, ``multiprocessing``): ``os.register_at_fork``
gives every live consumer, in the child, a new lock, no refresh in flight (the parent's worker thread
does not exist there) and a new boto3 client (a client's keep-alive connections must never be shared
by two processes: their replies can cross). The inherited snapshot is kept: it was fetched by the
parent and is served while its TTL lasts.

Access denied (MySQL 1045) forces a refresh, at most once per snapshot and at most once per
``forced_refresh_interval`` seconds (default 5): a wrong password in Parameter Store costs one
``GetParameters`` per interval however many connections fail, instead of one per connection.

Why not Powertools' ``SSMProvider.get_parameters_by_name``? It does issue one ``GetParameters`` call
when every name is decrypted, but (checked against aws-lambda-powertools 3.37 ``parameters/ssm.py`` and
``base.py``):

* it caches each *name* with its own expiry and, on a partial hit, fetches only the expired names, so a
  cached flag can be paired with URLs from another fetch; this module caches the five values as one
  snapshot taken by one call, with one TTL;
* its cache has no lock: when the TTL lapses every thread of a server calls ``GetParameters`` at once;
  here one thread refreshes while the others keep serving the just-expired snapshot;
* ``get_parameters_by_name`` has no ``force_fetch``: the access-denied path could only clear the whole
  provider's cache, and concurrent 1045s would each refetch; here a forced refresh is coalesced per
  snapshot generation;
* it swallows ``InvalidKeyId`` and ``InternalServerError`` into an error list that fail-fast mode then
  drops, so a KMS problem would surface as "parameter missing"; here it surfaces as
  :class:`~bluegreen_db.errors.ParameterStoreDecryptError`, naming the fix;
* it would make the layer (and every server using the SQLAlchemy engine) depend on Powertools, and add
  its import time to every cold start, for what is one boto3 call.

Retries and throttling are botocore's own: the SSM client is built with
``Config(retries={"mode": "standard" | "adaptive"})``, so ``ThrottlingException`` backs off with jitter
(``adaptive`` adds client-side rate limiting for large fleets).

Nothing here logs, reprs or raises a URL with its password: :class:`~bluegreen_db.dburl.DbUrl` and
:class:`Snapshot` render redacted, and errors name parameters, never values.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from bluegreen_db.dburl import DbUrl, parse_url
from bluegreen_db.errors import (
    BlueGreenError,
    ParameterInvalidError,
    ParameterMissingError,
    ParameterStoreError,
    RefreshTimeoutError,
    from_aws_error,
)
from bluegreen_db.naming import COLORS, ROLES, Color, ParameterNames, Role, parse_color
from bluegreen_db.tls import TlsSettings, ensure_encrypted, has_own_tls

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_ssm import SSMClient
    from pymysql.connections import Connection

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

logger = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 60.0
TTL_ENV = "BLUEGREEN_CACHE_TTL"
DEFAULT_REFRESH_TIMEOUT = 5.0
REFRESH_TIMEOUT_ENV = "BLUEGREEN_REFRESH_TIMEOUT"
DEFAULT_FORCED_REFRESH_INTERVAL = 5.0
DEFAULT_STALE_IF_ERROR = 300.0
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_CONNECT_TIMEOUT = 5
BOTO_CONNECT_TIMEOUT = 3
BOTO_READ_TIMEOUT = 5
ER_ACCESS_DENIED_ERROR = 1045

RetryMode = Literal["standard", "adaptive"]
_RETRY_MODES: tuple[RetryMode, RetryMode] = ("standard", "adaptive")


def _seconds(
    name: str, explicit: float | None, env: Mapping[str, str], env_name: str, default: float
) -> float:
    if explicit is not None:
        value, source = float(explicit), name
    elif env.get(env_name, "").strip():
        source = env_name
        try:
            value = float(env[env_name])
        except ValueError:
            raise ValueError(f"{env_name}={env[env_name]!r} is not a number of seconds") from None
    else:
        return default
    if not value >= 0 or value == float("inf"):  # also rejects NaN
        raise ValueError(f"{source} must be a finite number of seconds >= 0, got {value!r}")
    return value


def resolve_ttl(explicit: float | None = None, environ: Mapping[str, str] | None = None) -> float:
    """The cache TTL in seconds: an explicit value, else ``BLUEGREEN_CACHE_TTL``, else 60."""
    env = os.environ if environ is None else environ
    return _seconds("ttl", explicit, env, TTL_ENV, DEFAULT_TTL_SECONDS)


def resolve_refresh_timeout(explicit: float | None = None, environ: Mapping[str, str] | None = None) -> float:
    """Seconds a caller waits for a refresh: explicit, else ``BLUEGREEN_REFRESH_TIMEOUT``, else 5."""
    env = os.environ if environ is None else environ
    value = _seconds("refresh_timeout", explicit, env, REFRESH_TIMEOUT_ENV, DEFAULT_REFRESH_TIMEOUT)
    if value <= 0:
        raise ValueError(f"refresh_timeout must be > 0 seconds, got {value!r}")
    return value


def resolve_retry_mode(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> RetryMode:
    """botocore's retry mode: an explicit value, else ``AWS_RETRY_MODE``, else ``standard``.

    ``legacy`` (botocore's own default) is refused: it does not treat every throttling error alike and
    has no client-side rate limiting.
    """
    env = os.environ if environ is None else environ
    mode = explicit or env.get("AWS_RETRY_MODE") or "standard"
    for known in _RETRY_MODES:
        if mode == known:
            return known
    raise ValueError(f"retry mode must be 'standard' or 'adaptive', got {mode!r}")


def is_access_denied(exc: BaseException) -> bool:
    """True for MySQL error 1045 (wrong user or password) as raised by pymysql or MySQLdb."""
    args: tuple[Any, ...] = getattr(exc, "args", ())
    return bool(args) and args[0] == ER_ACCESS_DENIED_ERROR


def retry_snapshot(
    refresh_after_denied: Callable[[Snapshot], Snapshot], snap: Snapshot, role: Role, exc: BaseException
) -> Snapshot | None:
    """After a connect with ``snap`` failed with ``exc``: the snapshot to retry with, or None to raise.

    Only access denied (1045) is retried, and only when a refresh (rate-limited by the consumer) finds
    different credentials: the one rule every sync path (pymysql, SQLAlchemy, Django) follows.
    """
    if not is_access_denied(exc):
        return None
    return newer_credentials(snap, refresh_after_denied(snap), role)


def newer_credentials(snap: Snapshot, fresh: Snapshot, role: Role) -> Snapshot | None:
    """``fresh`` if its credentials for ``role`` differ from the ones of ``snap`` the database refused,
    else None (logged either way): the second half of :func:`retry_snapshot`, for async callers."""
    url, fresh_url = snap.url(role), fresh.url(role)
    if fresh_url == url:
        logger.warning("access denied for %s and Parameter Store holds no newer credentials", url.redacted())
        return None
    logger.info(
        "access denied for %s; retrying with refreshed credentials %s (flag: %s)",
        url.redacted(),
        fresh_url.redacted(),
        fresh.color,
    )
    return fresh


def check_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise ValueError(f"role must be 'writer' or 'reader', got {role!r}")


@dataclass(frozen=True, repr=False, eq=False)
class Snapshot:
    """The flag and the URLs as one GetParameters call returned them.

    ``urls`` holds every color whose URLs were present and well-formed; the flag's color always has
    both roles (a refresh that cannot provide them fails instead of producing a snapshot).
    """

    color: Color
    urls: Mapping[tuple[Color, Role], DbUrl]
    fetched_at: float
    generation: int
    names: ParameterNames

    def url(self, role: Role = "writer", color: Color | None = None) -> DbUrl:
        """The URL of ``role`` for ``color`` (default: the flag's color)."""
        color = color or self.color
        try:
            return self.urls[(color, check_role(role))]
        except KeyError:
            raise ParameterMissingError(
                [self.names.url(color, role)],
                f"no {role} URL for {color} was found when the flag named {self.color}",
            ) from None

    def __repr__(self) -> str:
        urls = ", ".join(f"{c}/{r}={u.redacted()}" for (c, r), u in sorted(self.urls.items()))
        return f"Snapshot(color={self.color!r}, generation={self.generation}, {urls})"

    __str__ = __repr__


class _Flight:
    """One GetParameters call under way in a worker thread; its waiters block on ``done``."""

    __slots__ = ("deadline", "done", "error", "snapshot")

    def __init__(self, timeout: float) -> None:
        self.done = threading.Event()
        self.snapshot: Snapshot | None = None
        self.error: BaseException | None = None
        # Real time, not the consumer's injectable clock: Event.wait counts real seconds.
        self.deadline = time.monotonic() + timeout

    def overdue(self) -> bool:
        return not self.done.is_set() and time.monotonic() >= self.deadline


# Every live consumer, so that a forked child can reset them all (see _after_fork_in_child).
_registry: weakref.WeakSet[BlueGreenConsumer] = weakref.WeakSet()


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
        ``stale_if_error``) or :class:`~bluegreen_db.errors.RefreshTimeoutError`.
    :param forced_refresh_interval: least seconds between two refreshes forced by access denied.
    :param connect_kwargs: defaults for every ``pymysql.connect`` (e.g. ``charset``), under per-call
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
        env = os.environ if environ is None else environ
        self._names = ParameterNames.for_prefix(prefix, env)
        self._ttl = resolve_ttl(ttl, env)
        self._refresh_timeout = resolve_refresh_timeout(refresh_timeout, env)
        self._retry_mode = resolve_retry_mode(retry_mode, env)
        self._tls = TlsSettings.resolve(tls_mode, tls_ca_file, env)
        if max_attempts is not None and max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        # Explicit wins; else botocore reads AWS_MAX_ATTEMPTS itself; else our default.
        self._max_attempts: int | None = max_attempts
        if max_attempts is None and "AWS_MAX_ATTEMPTS" not in env:
            self._max_attempts = DEFAULT_MAX_ATTEMPTS
        self._boto_config = boto_config
        self._connect_kwargs: dict[str, Any] = {"connect_timeout": DEFAULT_CONNECT_TIMEOUT}
        self._connect_kwargs.update(connect_kwargs or {})
        if not stale_if_error >= 0:
            raise ValueError(f"stale_if_error must be >= 0 seconds, got {stale_if_error!r}")
        if not forced_refresh_interval >= 0:
            raise ValueError(f"forced_refresh_interval must be >= 0 seconds, got {forced_refresh_interval!r}")
        self._stale_if_error = float(stale_if_error)
        self._forced_interval = float(forced_refresh_interval)
        self._clock = clock
        self._client = client
        self._client_given = client is not None
        self._client_factory = client_factory
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._flight: _Flight | None = None
        self._failing = False  # the last refresh failed or timed out
        self._backoff_until = 0.0
        self._forced_generation = 0  # the snapshot generation whose 1045 last forced a refresh
        self._last_forced = float("-inf")
        self._generation = 0
        self._parameter_calls = 0
        _registry.add(self)

    # -- configuration ---------------------------------------------------------------------------

    @property
    def names(self) -> ParameterNames:
        return self._names

    @property
    def ttl(self) -> float:
        return self._ttl

    @property
    def refresh_timeout(self) -> float:
        return self._refresh_timeout

    @property
    def retry_mode(self) -> RetryMode:
        return self._retry_mode

    @property
    def tls(self) -> TlsSettings:
        """The TLS settings for connections (a URL's own options apply over them)."""
        return self._tls

    @property
    def refreshes(self) -> int:
        """How many snapshots this consumer has fetched (each one GetParameters call)."""
        return self._generation

    @property
    def parameter_calls(self) -> int:
        """How many GetParameters calls this consumer has made (botocore retries not counted)."""
        return self._parameter_calls

    def __repr__(self) -> str:
        snap = self._snapshot
        state = f"color={snap.color!r}, generation={snap.generation}" if snap else "not loaded"
        return f"BlueGreenConsumer(prefix={self._names.prefix!r}, ttl={self._ttl}, {state})"

    # -- reading ---------------------------------------------------------------------------------

    @property
    def client(self) -> SSMClient:
        """The SSM client, built on first use with botocore's standard/adaptive retries."""
        with self._lock:
            return self._client_locked()

    @property
    def cached(self) -> Snapshot | None:
        """The snapshot in memory, however old (no I/O): for callers that must never wait."""
        return self._snapshot

    @property
    def connect_timeout(self) -> float:
        """Seconds a database connect may take (``connect_kwargs['connect_timeout']``, default 5)."""
        return float(self._connect_kwargs.get("connect_timeout") or DEFAULT_CONNECT_TIMEOUT)

    def is_fresh(self, snap: Snapshot | None) -> bool:
        """True while ``snap`` is younger than the TTL."""
        return snap is not None and self._clock() - snap.fetched_at < self._ttl

    def serves_while_refreshing(self, snap: Snapshot) -> bool:
        """Whether a caller holding ``snap`` gets it at once while another caller refreshes: when it
        is less than two TTLs old, or Parameter Store is failing and it is still within
        ``stale_if_error``."""
        age = self._clock() - snap.fetched_at
        return age < 2 * self._ttl or (self._failing and age < self._ttl + self._stale_if_error)

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
        snap = self._snapshot
        if snap is not None and self._clock() - snap.fetched_at < self._ttl:
            return snap
        return self._refresh(snap)

    def refresh(self, stale: Snapshot | None = None) -> Snapshot:
        """Fetches a new snapshot now, bypassing the TTL (bounded by the refresh timeout).

        With ``stale``, the refresh is coalesced: if another caller already replaced that snapshot,
        its result is returned without a new call (many connections failing at once cost one call).
        Errors are raised, never hidden behind the stale snapshot.
        """
        with self._lock:
            snap = self._snapshot
            if stale is not None and snap is not None and snap is not stale:
                return snap
            flight = self._live_flight_locked()
        return self._await(flight, fallback=None)

    def refresh_after_denied(self, stale: Snapshot) -> Snapshot:
        """A fresher snapshot after the database refused ``stale``'s credentials (MySQL 1045).

        At most one refresh per snapshot, and at most one per ``forced_refresh_interval`` seconds: a
        wrong password in Parameter Store must not turn every failing connection into a
        ``GetParameters`` call. Returns ``stale`` itself (or whatever replaced it) when no refresh is
        allowed or the refresh fails; the caller then raises the database's error.
        """
        with self._lock:
            snap = self._snapshot
            if snap is not None and snap is not stale and snap.generation > stale.generation:
                return snap  # someone already replaced it
            now = self._clock()
            if self._forced_generation >= stale.generation or now - self._last_forced < self._forced_interval:
                logger.debug("access denied: a forced refresh was made moments ago; not refreshing again")
                return snap or stale
            self._forced_generation = stale.generation
            self._last_forced = now
            flight = self._live_flight_locked()
        return self._await(flight, fallback=stale)

    def invalidate(self) -> None:
        """Drops the cached snapshot; the next read fetches."""
        with self._lock:
            self._snapshot = None

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
        return self._tls.override(url.tls_mode, url.tls_ca_file)

    def connect(self, role: Role = "writer", **kwargs: Any) -> Connection[Any]:
        """A pymysql connection as the current color's user, over TLS unless the settings disable it.

        On MySQL error 1045 (access denied) the snapshot is refreshed (see
        :meth:`refresh_after_denied`) and the connection retried if Parameter Store holds different
        credentials; otherwise the original error is raised. ``kwargs`` go to ``pymysql.connect``
        (over ``connect_kwargs``).
        """
        import pymysql  # lazy: keep the layer's import cheap

        role = check_role(role)
        snap = self.current()
        url = snap.url(role)
        try:
            return self._open(url, kwargs)
        except pymysql.err.OperationalError as exc:
            fresh = retry_snapshot(self.refresh_after_denied, snap, role, exc)
            if fresh is None:
                raise
        return self._open(fresh.url(role), kwargs)

    def _open(self, url: DbUrl, kwargs: Mapping[str, Any]) -> Connection[Any]:
        import pymysql  # lazy: keep the layer's import cheap

        params = {**self._connect_kwargs, **kwargs}
        tls = self.tls_for(url)
        own_tls = has_own_tls(params)
        if not own_tls:
            params.update(tls.pymysql_kwargs())
        conn = pymysql.connect(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            database=url.database or None,
            **params,
        )
        if not own_tls:
            ensure_encrypted(conn, tls, f"{url.host}:{url.port}")
        return conn

    # -- refreshing ------------------------------------------------------------------------------

    def _usable(self, snap: Snapshot, now: float) -> bool:
        return now - snap.fetched_at < self._ttl + self._stale_if_error

    def _refresh(self, seen: Snapshot | None) -> Snapshot:
        with self._lock:
            snap = self._snapshot
            now = self._clock()
            if snap is not None and snap is not seen and now - snap.fetched_at < self._ttl:
                return snap  # another caller refreshed meanwhile
            flight = self._flight
            if flight is None:
                if snap is not None and now < self._backoff_until and self._usable(snap, now):
                    return snap  # the last refresh failed moments ago: do not hammer Parameter Store
                flight = self._start_flight_locked()
                if snap is not None and self._failing and self._usable(snap, now):
                    return snap  # still failing: retry in the background, nobody waits for it
            elif snap is not None and self.serves_while_refreshing(snap):
                return snap  # someone else is refreshing: keep serving what we have
            elif flight.overdue():
                self._failing = True  # the refresh outlived its timeout: Parameter Store is failing
                if snap is not None and self._usable(snap, now):
                    return snap
                # Nothing usable: try again rather than fail at once (the stuck call may date from
                # before a Lambda freeze). At most one new call per refresh timeout.
                flight = self._start_flight_locked()
        return self._await(flight, fallback=snap)

    def _live_flight_locked(self) -> _Flight:
        """The refresh under way, or a new one if there is none or it is past its deadline."""
        flight = self._flight
        if flight is None or flight.overdue():
            flight = self._start_flight_locked()
        return flight

    def _start_flight_locked(self) -> _Flight:
        flight = _Flight(self._refresh_timeout)
        self._flight = flight
        worker = threading.Thread(
            target=self._fly, args=(flight,), name=f"bluegreen-refresh{self._names.prefix}", daemon=True
        )
        worker.start()
        return flight

    def _fly(self, flight: _Flight) -> None:
        """The worker: one GetParameters call, its snapshot installed, the waiters woken."""
        try:
            flight.snapshot = self._fetch()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiters, never lost in a thread
            mapped = from_aws_error(exc, self._names.prefix)
            if mapped is not None:
                mapped.__cause__ = exc
                flight.error = mapped
            else:
                flight.error = exc
        finally:
            with self._lock:
                if self._flight is flight:
                    self._flight = None
                if flight.error is None:
                    self._failing = False
                    self._backoff_until = 0.0
                elif not isinstance(flight.error, ParameterMissingError | ParameterInvalidError):
                    self._failing = True
                    self._backoff_until = self._clock() + min(self._ttl, 5.0)
            if flight.error is not None:
                logger.warning(
                    "could not refresh the blue/green parameters under %s (%s)",
                    self._names.prefix,
                    _describe(flight.error),
                )
            flight.done.set()

    def _await(self, flight: _Flight, fallback: Snapshot | None) -> Snapshot:
        """Waits for ``flight`` until its deadline (the refresh timeout after it started: a caller that
        joins late waits only the rest); on failure serves ``fallback`` if usable."""
        finished = flight.done.wait(max(0.0, flight.deadline - time.monotonic()))
        if finished and flight.snapshot is not None:
            return flight.snapshot
        error: BaseException
        if finished:
            error = flight.error or RuntimeError("refresh ended without a snapshot")
            if isinstance(error, ParameterMissingError | ParameterInvalidError):
                raise error  # configuration errors are never hidden by a stale snapshot
        else:
            error = RefreshTimeoutError(
                f"reading the blue/green parameters under {self._names.prefix} took longer than the "
                f"refresh timeout ({self._refresh_timeout:g} s, {REFRESH_TIMEOUT_ENV}); check the "
                "network path to the SSM endpoint",
                "RefreshTimeout",
            )
            with self._lock:
                self._failing = True
                self._backoff_until = max(self._backoff_until, self._clock() + min(self._ttl, 5.0))
        snap = self._snapshot
        now = self._clock()
        if snap is not None and snap is not fallback and now - snap.fetched_at < self._ttl:
            return snap
        if fallback is not None and self._usable(fallback, now):
            logger.log(
                logging.WARNING if not finished else logging.DEBUG,  # a failure was logged by _fly
                "could not refresh the blue/green parameters under %s (%s); using the snapshot "
                "from %.0f s ago (color %s)",
                self._names.prefix,
                _describe(error),
                now - fallback.fetched_at,
                fallback.color,
            )
            return fallback
        raise error

    # -- internals -------------------------------------------------------------------------------

    def _client_locked(self) -> SSMClient:
        if self._client is None:
            if self._client_factory is not None:
                self._client = self._client_factory()
            else:
                self._client = self._build_client()
        return self._client

    def _build_client(self, like: Any = None) -> SSMClient:
        import boto3  # lazy: no boto3 import cost until the first refresh

        if like is not None:  # a caller's client, rebuilt after a fork: same region, endpoint, config
            return boto3.session.Session().client(
                "ssm",
                region_name=like.meta.region_name,
                endpoint_url=like.meta.endpoint_url,
                config=like.meta.config,
            )
        from botocore.config import Config

        config = Config(
            retries={"mode": self._retry_mode},
            connect_timeout=BOTO_CONNECT_TIMEOUT,
            read_timeout=BOTO_READ_TIMEOUT,
        )
        if self._max_attempts is not None:
            config = config.merge(
                Config(retries={"mode": self._retry_mode, "total_max_attempts": self._max_attempts})
            )
        if self._boto_config is not None:
            config = config.merge(self._boto_config)
        return boto3.session.Session().client("ssm", config=config)

    def _fetch(self) -> Snapshot:
        """One GetParameters call (no lock held during it), the snapshot installed under the lock."""
        names = self._names
        with self._lock:
            client = self._client_locked()
            self._parameter_calls += 1
        response = client.get_parameters(Names=names.all(), WithDecryption=True)
        values = {
            p["Name"]: p["Value"] for p in response.get("Parameters", []) if "Name" in p and "Value" in p
        }

        flag_value = values.get(names.flag)
        if flag_value is None:
            raise ParameterMissingError(
                [names.flag],
                "the blue/green flag is written by the rotation's first finishSecret; check that the "
                f"secret has rotated and that the prefix {names.prefix!r} (PARAMETER_PREFIX / ENV) is right",
            )
        try:
            color = parse_color(flag_value.strip())
        except ValueError as exc:
            raise ParameterInvalidError(f"{names.flag}: {exc}") from None

        urls: dict[tuple[Color, Role], DbUrl] = {}
        for c in COLORS:
            for r in ROLES:
                name = names.url(c, r)
                raw = values.get(name)
                if raw is None:
                    continue
                try:
                    urls[(c, r)] = parse_url(raw)
                except ValueError as exc:
                    if c == color:
                        raise ParameterInvalidError(f"{name}: {exc}") from None
                    logger.warning("ignoring %s of the color not in use: %s", name, exc)
        missing = [names.url(color, r) for r in ROLES if (color, r) not in urls]
        if missing:
            raise ParameterMissingError(
                missing, f"the flag {names.flag} names {color}, so its writer and reader URLs must exist"
            )

        with self._lock:
            previous = self._snapshot
            self._generation += 1
            snap = Snapshot(
                color=color, urls=urls, fetched_at=self._clock(), generation=self._generation, names=names
            )
            self._snapshot = snap
        if previous is not None and previous.color != color:
            logger.info("blue/green flag under %s moved from %s to %s", names.prefix, previous.color, color)
        else:
            logger.debug("refreshed blue/green parameters under %s: %s", names.prefix, color)
        return snap

    def _after_fork_in_child(self) -> None:
        """Runs in a forked child only: nothing of the parent's threads or sockets is reused."""
        self._lock = threading.Lock()
        self._flight = None  # its worker thread exists in the parent only
        self._failing = False
        self._backoff_until = 0.0
        parent_client, self._client = self._client, None
        if parent_client is not None and self._client_given and self._client_factory is None:
            self._client_factory = lambda: self._build_client(like=parent_client)


def _describe(error: BaseException) -> str:
    if isinstance(error, ParameterStoreError):
        return f"{type(error).__name__}: {error.code}"
    return type(error).__name__


_default: BlueGreenConsumer | None = None
_default_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _default_lock  # noqa: PLW0603 - a lock held by a parent thread at fork time is never released
    _default_lock = threading.Lock()
    for consumer in list(_registry):
        consumer._after_fork_in_child()


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


def connect(role: Role = "writer", **kwargs: Any) -> Connection[Any]:
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
