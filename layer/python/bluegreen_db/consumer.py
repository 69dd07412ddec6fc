"""The consumer side: read the blue/green flag and the URLs once per TTL, connect as the current color.

One :class:`BlueGreenConsumer` reads the flag and both colors' writer and reader URLs in a single
``GetParameters`` call (``WithDecryption=True``) and keeps that :class:`Snapshot` for a TTL, so a warm
Lambda pays no Parameter Store call per invocation and a server pays one call per TTL, however many
threads it runs. The TTL must stay well under the rotation's ``ROTATION_GRACE_SECONDS``: the rotation
never changes the password of a color that left the flag less than the grace period ago, so a consumer
that refreshes within the grace period never holds a changed password.

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
  drops, so a KMS problem would surface as "parameter missing"; here the botocore error propagates;
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from bluegreen_db.dburl import DbUrl, parse_url
from bluegreen_db.naming import COLORS, ROLES, Color, ParameterNames, Role, parse_color

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_ssm import SSMClient
    from pymysql.connections import Connection

logger = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 60.0
TTL_ENV = "BLUEGREEN_CACHE_TTL"
DEFAULT_STALE_IF_ERROR = 300.0
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_CONNECT_TIMEOUT = 5
ER_ACCESS_DENIED_ERROR = 1045

RetryMode = Literal["standard", "adaptive"]
_RETRY_MODES: tuple[RetryMode, RetryMode] = ("standard", "adaptive")


class BlueGreenError(Exception):
    """Base class of the consumer's own errors."""


class ParameterMissingError(BlueGreenError, LookupError):
    """Parameter Store lacks a parameter the consumer needs; the message names it."""

    def __init__(self, names: list[str], hint: str) -> None:
        self.names = names
        plural = "s" if len(names) > 1 else ""
        super().__init__(f"Parameter Store has no parameter{plural} {', '.join(names)}: {hint}")

    def __str__(self) -> str:
        # LookupError's str would quote the message; keep it plain.
        return str(self.args[0])


class ParameterInvalidError(BlueGreenError, ValueError):
    """A parameter exists but its value is unusable; the message names it (never a URL's password)."""


def resolve_ttl(explicit: float | None = None, environ: Mapping[str, str] | None = None) -> float:
    """The cache TTL in seconds: an explicit value, else ``BLUEGREEN_CACHE_TTL``, else 60."""
    env = os.environ if environ is None else environ
    if explicit is not None:
        value, source = float(explicit), "ttl"
    elif env.get(TTL_ENV, "").strip():
        source = TTL_ENV
        try:
            value = float(env[TTL_ENV])
        except ValueError:
            raise ValueError(f"{TTL_ENV}={env[TTL_ENV]!r} is not a number of seconds") from None
    else:
        return DEFAULT_TTL_SECONDS
    if not value >= 0 or value == float("inf"):  # also rejects NaN
        raise ValueError(f"{source} must be a finite number of seconds >= 0, got {value!r}")
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


def _check_role(role: str) -> Role:
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
            return self.urls[(color, _check_role(role))]
        except KeyError:
            raise ParameterMissingError(
                [self.names.url(color, role)],
                f"no {role} URL for {color} was found when the flag named {self.color}",
            ) from None

    def __repr__(self) -> str:
        urls = ", ".join(f"{c}/{r}={u.redacted()}" for (c, r), u in sorted(self.urls.items()))
        return f"Snapshot(color={self.color!r}, generation={self.generation}, {urls})"

    __str__ = __repr__


class BlueGreenConsumer:
    """Reads the blue/green parameters under one prefix and opens connections as the current color.

    Thread-safe; one instance per process (or per prefix) is meant to be shared. Construction does no
    I/O: the boto3 client is made on the first refresh, once.

    :param prefix: the parameter prefix; default ``PARAMETER_PREFIX``, else ``/db/{ENV}``.
    :param ttl: seconds a snapshot is served from memory; default ``BLUEGREEN_CACHE_TTL``, else 60.
        Keep it well under the rotation's ``ROTATION_GRACE_SECONDS`` (default 900).
    :param client: an SSM client to use instead of building one (tests, custom sessions).
    :param retry_mode: botocore retry mode, ``standard`` or ``adaptive``; default ``AWS_RETRY_MODE``,
        else ``standard``.
    :param max_attempts: total attempts per call including retries; default ``AWS_MAX_ATTEMPTS``, else 5.
    :param boto_config: extra botocore ``Config`` merged over the defaults (its ``retries`` wins).
    :param connect_kwargs: defaults for every ``pymysql.connect`` (e.g. ``ssl``), under per-call kwargs.
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
        retry_mode: RetryMode | None = None,
        max_attempts: int | None = None,
        boto_config: Config | None = None,
        connect_kwargs: Mapping[str, Any] | None = None,
        stale_if_error: float = DEFAULT_STALE_IF_ERROR,
        clock: Callable[[], float] = time.monotonic,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self._names = ParameterNames.for_prefix(prefix, env)
        self._ttl = resolve_ttl(ttl, env)
        self._retry_mode = resolve_retry_mode(retry_mode, env)
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
        self._stale_if_error = float(stale_if_error)
        self._backoff_until = 0.0
        self._clock = clock
        self._client = client
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._generation = 0
        self._parameter_calls = 0

    # -- configuration ---------------------------------------------------------------------------

    @property
    def names(self) -> ParameterNames:
        return self._names

    @property
    def ttl(self) -> float:
        return self._ttl

    @property
    def retry_mode(self) -> RetryMode:
        return self._retry_mode

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

    def current(self) -> Snapshot:
        """The cached snapshot, refreshed when older than the TTL.

        When the TTL lapses, one thread refreshes; other threads that find the refresh under way keep
        the just-expired snapshot (for at most one more TTL) instead of queueing behind the call:
        their credentials are still valid, since the TTL is far inside the rotation's grace period.

        If the refresh itself fails (Parameter Store unreachable, throttled past botocore's retries),
        a snapshot younger than ``ttl + stale_if_error`` is served instead, with a warning, and the
        next attempt waits ``min(ttl, 5)`` seconds. Configuration errors (a missing or malformed
        parameter) are always raised.
        """
        snap = self._snapshot
        if snap is not None:
            now = self._clock()
            age = now - snap.fetched_at
            if age < self._ttl:
                return snap
            if now < self._backoff_until and age < self._ttl + self._stale_if_error:
                return snap  # the last refresh failed moments ago: do not hammer Parameter Store
            if age < 2 * self._ttl:
                if not self._lock.acquire(blocking=False):
                    return snap
            else:
                self._lock.acquire()
        else:
            self._lock.acquire()
        try:
            snap = self._snapshot
            if snap is not None and self._clock() - snap.fetched_at < self._ttl:
                return snap  # another thread refreshed while this one waited
            try:
                return self._fetch_locked()
            except BlueGreenError:
                raise
            except Exception as exc:
                if snap is None:
                    raise
                now = self._clock()
                age = now - snap.fetched_at
                if age >= self._ttl + self._stale_if_error:
                    raise
                self._backoff_until = now + min(self._ttl, 5.0)
                logger.warning(
                    "could not refresh the blue/green parameters under %s (%s); using the snapshot "
                    "from %.0f s ago (color %s)",
                    self._names.prefix,
                    type(exc).__name__,
                    age,
                    snap.color,
                )
                return snap
        finally:
            self._lock.release()

    def refresh(self, stale: Snapshot | None = None) -> Snapshot:
        """Fetches a new snapshot now, bypassing the TTL.

        With ``stale``, the refresh is coalesced: if another thread already replaced that snapshot,
        its result is returned without a new call (many connections failing at once cost one call).
        """
        with self._lock:
            snap = self._snapshot
            if stale is not None and snap is not None and snap is not stale:
                return snap
            return self._fetch_locked()

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

    def connect(self, role: Role = "writer", **kwargs: Any) -> Connection[Any]:
        """A pymysql connection as the current color's user.

        On MySQL error 1045 (access denied) the cached snapshot is refreshed once, bypassing the TTL,
        and the connection retried if Parameter Store holds different credentials; otherwise the
        original error is raised. ``kwargs`` go to ``pymysql.connect`` (over ``connect_kwargs``).
        """
        import pymysql  # lazy: keep the layer's import cheap

        role = _check_role(role)
        snap = self.current()
        url = snap.url(role)
        try:
            return self._open(url, kwargs)
        except pymysql.err.OperationalError as exc:
            if not is_access_denied(exc):
                raise
            fresh = self.refresh(stale=snap)
            fresh_url = fresh.url(role)
            if fresh_url == url:
                logger.warning(
                    "access denied for %s and Parameter Store holds no newer credentials", url.redacted()
                )
                raise
            logger.info(
                "access denied for %s; retrying with refreshed credentials %s (flag: %s)",
                url.redacted(),
                fresh_url.redacted(),
                fresh.color,
            )
        return self._open(fresh_url, kwargs)

    def _open(self, url: DbUrl, kwargs: Mapping[str, Any]) -> Connection[Any]:
        import pymysql  # lazy: keep the layer's import cheap

        params = {**self._connect_kwargs, **kwargs}
        return pymysql.connect(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            database=url.database or None,
            **params,
        )

    # -- internals (call with the lock held) -----------------------------------------------------

    def _client_locked(self) -> SSMClient:
        if self._client is None:
            import boto3  # lazy: no boto3 import cost until the first refresh
            from botocore.config import Config

            config = Config(retries={"mode": self._retry_mode}, connect_timeout=3, read_timeout=5)
            if self._max_attempts is not None:
                config = config.merge(
                    Config(retries={"mode": self._retry_mode, "total_max_attempts": self._max_attempts})
                )
            if self._boto_config is not None:
                config = config.merge(self._boto_config)
            self._client = boto3.session.Session().client("ssm", config=config)
        return self._client

    def _fetch_locked(self) -> Snapshot:
        names = self._names
        wanted = names.all()
        client = self._client_locked()
        self._parameter_calls += 1
        response = client.get_parameters(Names=wanted, WithDecryption=True)
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

        previous = self._snapshot
        self._generation += 1
        snap = Snapshot(
            color=color, urls=urls, fetched_at=self._clock(), generation=self._generation, names=names
        )
        self._snapshot = snap
        self._backoff_until = 0.0
        if previous is not None and previous.color != color:
            logger.info("blue/green flag under %s moved from %s to %s", names.prefix, previous.color, color)
        else:
            logger.debug("refreshed blue/green parameters under %s: %s", names.prefix, color)
        return snap


_default: BlueGreenConsumer | None = None
_default_lock = threading.Lock()


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
