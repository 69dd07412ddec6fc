"""Everything one rotation step needs, read lazily so a step pays only for what it uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from bluegreen_db.naming import ParameterNames

from .config import Settings
from .engines import engine_for
from .engines.base import Endpoint, Engine
from .errors import InvalidInputError, TimeBudgetError
from .mirror import Mirror
from .secret import DbSecret, MasterSecret
from .secrets_store import CURRENT, PENDING, SecretState, SecretStore

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


class LambdaContextLike(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class RotationContext:
    arn: str
    token: str
    rotation_token: str | None
    state: SecretState
    settings: Settings
    store: SecretStore
    ssm: SSMClient
    lambda_context: LambdaContextLike | None = None
    now: Callable[[], datetime] = _utcnow
    engines: Callable[[str], Engine] = engine_for
    """Finds the engine serving a secret's ``engine`` value (tests pass a fake engine's)."""
    _cache: dict[str, DbSecret] = field(default_factory=dict, repr=False)

    def current(self) -> DbSecret:
        if "current" not in self._cache:
            text = self.store.value(self.arn, self.state.current_version, CURRENT)
            self._cache["current"] = DbSecret.parse(text, "AWSCURRENT version")
        return self._cache["current"]

    def pending(self) -> DbSecret:
        if "pending" not in self._cache:
            text = self.store.value(self.arn, self.token, PENDING)
            if text is None:
                raise InvalidInputError(
                    f"version {self.token} has no value yet: createSecret has not run for this token"
                )
            self._cache["pending"] = DbSecret.parse(text, "AWSPENDING version")
        return self._cache["pending"]

    @property
    def engine(self) -> Engine:
        """The engine of AWSCURRENT's secret (a version's engine never differs from AWSCURRENT's:
        every version the function writes copies it)."""
        return self.engines(self.current().engine)

    @property
    def url_scheme(self) -> str:
        """The scheme of the URLs this rotation writes: DB_URL_SCHEME, else the engine's."""
        return self.settings.url_scheme(self.engine)

    def master(self, secret: DbSecret) -> MasterSecret:
        return MasterSecret.parse(self.store.read_master(secret.masterarn), secret)

    def endpoint(self, host: str, port: int) -> Endpoint:
        s = self.settings
        return Endpoint(host, port, s.db_tls_mode, s.db_tls_ca_file, s.db_connect_timeout)

    def mirror(self, secret: DbSecret) -> Mirror:
        """The mirror under the secret's ``parameterPrefix``, else the function's configured prefix."""
        explicit = secret.parameter_prefix or self.settings.parameter_prefix
        try:
            names = ParameterNames.for_prefix(explicit, {"ENV": self.settings.env})
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from None
        return Mirror(self.ssm, names, self.settings.parameter_kms_key_id)

    def require_time(self, what: str) -> None:
        """Refuses to start a slow operation the Lambda may not live to finish.

        A database call may take up to the connect timeout for the connection plus one for each
        statement; starting with less time left risks a half-done step killed mid-way.
        """
        if self.lambda_context is None:
            return
        needed_ms = int(self.settings.db_connect_timeout * 3 * 1000)
        left = self.lambda_context.get_remaining_time_in_millis()
        if left < needed_ms:
            raise TimeBudgetError(f"only {left} ms left, {needed_ms} ms needed to {what}; stopping before it")
