"""Typed settings of the function, read from the environment once per invocation.

Explicit keyword arguments win over the environment (the Powertools convention), so tests and the
operator CLI can build settings without touching ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

from bluegreen_db.tls import TLS_MODES, TlsMode

from .errors import InvalidInputError
from .regions import replica_kms_keys

if TYPE_CHECKING:
    from .engines.base import Engine

SessionPolicy = Literal["fail", "warn"]

SESSION_POLICIES: tuple[SessionPolicy, ...] = ("fail", "warn")
DEFAULT_EXCLUDE_CHARACTERS = " /@\"'\\"


@dataclass(frozen=True)
class Settings:
    env: str = "dev"
    parameter_prefix: str | None = None
    parameter_kms_key_id: str | None = None
    db_url_scheme: str | None = None  # None: the secret's engine's (see url_scheme)
    exclude_characters: str = DEFAULT_EXCLUDE_CHARACTERS
    password_length: int = 32
    db_tls_mode: TlsMode = "verify-full"
    db_tls_ca_file: str | None = None
    db_connect_timeout: float = 5.0
    rotation_grace_seconds: int = 900
    active_session_policy: SessionPolicy = "fail"
    replica_parameter_kms_key_arns: tuple[str, ...] = ()
    """REPLICA_PARAMETER_KMS_KEY_ARNS: the SecureString key of each replica region (a KMS ARN is regional)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        raw: dict[str, Any] = {
            "env": env.get("ENV") or "dev",
            "parameter_prefix": env.get("PARAMETER_PREFIX") or None,
            "parameter_kms_key_id": env.get("PARAMETER_KMS_KEY_ID") or None,
            "db_url_scheme": env.get("DB_URL_SCHEME") or None,
            # An empty EXCLUDE_CHARACTERS is meaningful (exclude nothing): only an unset one defaults.
            "exclude_characters": env.get("EXCLUDE_CHARACTERS", DEFAULT_EXCLUDE_CHARACTERS),
            "password_length": _int(env, "PASSWORD_LENGTH", 32),
            "db_tls_mode": env.get("DB_TLS_MODE") or "verify-full",
            "db_tls_ca_file": env.get("DB_TLS_CA_FILE") or None,
            "db_connect_timeout": _float(env, "DB_CONNECT_TIMEOUT", 5.0),
            "rotation_grace_seconds": _int(env, "ROTATION_GRACE_SECONDS", 900),
            "active_session_policy": env.get("ACTIVE_SESSION_POLICY") or "fail",
            "replica_parameter_kms_key_arns": replica_kms_keys(env),
        }
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        raw.update(overrides)
        settings = cls(**raw)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.db_tls_mode not in TLS_MODES:
            raise InvalidInputError(
                f"DB_TLS_MODE must be one of {', '.join(TLS_MODES)}, not {self.db_tls_mode!r}"
            )
        if self.active_session_policy not in SESSION_POLICIES:
            raise InvalidInputError(
                f"ACTIVE_SESSION_POLICY must be 'fail' or 'warn', not {self.active_session_policy!r}"
            )
        if not 8 <= self.password_length <= 4096:
            raise InvalidInputError(f"PASSWORD_LENGTH must be between 8 and 4096, not {self.password_length}")
        if not 0 < self.db_connect_timeout <= 60:
            raise InvalidInputError(
                f"DB_CONNECT_TIMEOUT must be above 0 and at most 60 seconds, not {self.db_connect_timeout}"
            )
        if self.rotation_grace_seconds < 0:
            raise InvalidInputError("ROTATION_GRACE_SECONDS must not be negative")
        if self.db_url_scheme is not None and (not self.db_url_scheme or "://" in self.db_url_scheme):
            raise InvalidInputError(f"DB_URL_SCHEME {self.db_url_scheme!r} is not a URL scheme")
        if self.db_tls_ca_file and not os.path.isfile(self.db_tls_ca_file):
            raise InvalidInputError(f"DB_TLS_CA_FILE {self.db_tls_ca_file!r} does not exist")

    def url_scheme(self, engine: Engine) -> str:
        """The scheme of the URLs written for a secret: DB_URL_SCHEME when set, else the engine's
        (one function serves MySQL and PostgreSQL secrets, each with its driver's scheme)."""
        return self.db_url_scheme or engine.default_url_scheme


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidInputError(f"{name} must be an integer, not {value!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    value = env.get(name)
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise InvalidInputError(f"{name} must be a number, not {value!r}") from None
