"""The consumer's settings: an explicit argument wins, else the environment, else the default.

Resolved once, when a consumer is built, into one :class:`ConsumerSettings`; every bad value is refused
there, naming the argument or the variable it came from, so a typo fails at start-up rather than at
the first refresh.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bluegreen_db.naming import ParameterNames
from bluegreen_db.tls import TlsSettings

DEFAULT_TTL_SECONDS = 60.0
TTL_ENV = "BLUEGREEN_CACHE_TTL"
DEFAULT_REFRESH_TIMEOUT = 5.0
REFRESH_TIMEOUT_ENV = "BLUEGREEN_REFRESH_TIMEOUT"
DEFAULT_FORCED_REFRESH_INTERVAL = 5.0
DEFAULT_STALE_IF_ERROR = 300.0
DEFAULT_MAX_ATTEMPTS = 5
MAX_ATTEMPTS_ENV = "AWS_MAX_ATTEMPTS"
RETRY_MODE_ENV = "AWS_RETRY_MODE"
DEFAULT_CONNECT_TIMEOUT = 5

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
    mode = explicit or env.get(RETRY_MODE_ENV) or "standard"
    for known in _RETRY_MODES:
        if mode == known:
            return known
    raise ValueError(f"retry mode must be 'standard' or 'adaptive', got {mode!r}")


def resolve_max_attempts(explicit: int | None = None, environ: Mapping[str, str] | None = None) -> int | None:
    """Total attempts per call: explicit, else ``None`` when ``AWS_MAX_ATTEMPTS`` is set (botocore
    reads it itself, so its own validation applies), else 5."""
    env = os.environ if environ is None else environ
    if explicit is not None:
        if explicit < 1:
            raise ValueError(f"max_attempts must be >= 1, got {explicit}")
        return explicit
    return None if MAX_ATTEMPTS_ENV in env else DEFAULT_MAX_ATTEMPTS


def _non_negative(name: str, value: float) -> float:
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"{name} must be >= 0 seconds, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ConsumerSettings:
    """Everything a consumer reads from its arguments and the environment, resolved and checked."""

    names: ParameterNames
    ttl: float
    refresh_timeout: float
    retry_mode: RetryMode
    max_attempts: int | None
    forced_refresh_interval: float
    stale_if_error: float
    tls: TlsSettings

    @classmethod
    def resolve(
        cls,
        prefix: str | None = None,
        *,
        ttl: float | None = None,
        refresh_timeout: float | None = None,
        retry_mode: str | None = None,
        max_attempts: int | None = None,
        forced_refresh_interval: float = DEFAULT_FORCED_REFRESH_INTERVAL,
        stale_if_error: float = DEFAULT_STALE_IF_ERROR,
        tls_mode: str | None = None,
        tls_ca_file: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> ConsumerSettings:
        env = os.environ if environ is None else environ
        return cls(
            names=ParameterNames.for_prefix(prefix, env),
            ttl=resolve_ttl(ttl, env),
            refresh_timeout=resolve_refresh_timeout(refresh_timeout, env),
            retry_mode=resolve_retry_mode(retry_mode, env),
            max_attempts=resolve_max_attempts(max_attempts, env),
            forced_refresh_interval=_non_negative("forced_refresh_interval", forced_refresh_interval),
            stale_if_error=_non_negative("stale_if_error", stale_if_error),
            tls=TlsSettings.resolve(tls_mode, tls_ca_file, env),
        )
