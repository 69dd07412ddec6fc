"""Everything one rotation step needs, read lazily so a step pays only for what it uses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from bluegreen_db.naming import ParameterNames, Role

from .config import Settings
from .engines import engine_for
from .engines.base import Admin, Endpoint, Engine, LoginDenied
from .errors import InvalidInputError, TimeBudgetError
from .observability import logger, metrics
from .regional_mirror import RegionalMirror, urls_by_region
from .regions import primary_region_of, regional_ssm_client
from .secret import DbSecret, MasterSecret
from .secrets_store import CURRENT, PENDING, SecretState, SecretStore
from .throttle import ThrottleRetry

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

# Seconds kept back from the Lambda's remaining time when retrying throttled Parameter Store
# writes: enough for the step to fail cleanly (and log why) before the runtime kills it.
_THROTTLE_MARGIN_S = 5.0


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
        """The master secret as it is now: read afresh on every call, never cached, because RDS
        rotates a managed master secret (``ManageMasterUserPassword``) on its own schedule."""
        return MasterSecret.parse(self.store.read_master(secret.masterarn), secret)

    @contextmanager
    def master_admin(self, secret: DbSecret, database: str | None) -> Iterator[Admin]:
        """A master connection for ``secret``'s database.

        A refused master login re-reads the master secret once and, when its password changed in the
        meantime (RDS rotated it between our read and our connect), logs in with the new one; the
        same password refused twice is a real failure and is raised as it is.
        """
        with ExitStack() as stack:
            master = self.master(secret)
            try:
                admin = stack.enter_context(self._admin_as(master, database))
            except LoginDenied:
                fresh = self.master(secret)
                if (fresh.username, fresh.password) == (master.username, master.password):
                    raise
                logger.warning(
                    "the master password changed while this step ran; logging in with the new one",
                    extra={"user": fresh.username},
                )
                metrics.add_metric(name="MasterSecretReread", unit="Count", value=1)
                admin = stack.enter_context(self._admin_as(fresh, database))
            yield admin

    def _admin_as(self, master: MasterSecret, database: str | None) -> AbstractContextManager[Admin]:
        return self.engine.admin(
            self.endpoint(master.host, master.port), master.username, master.password, database=database
        )

    def endpoint(self, host: str, port: int) -> Endpoint:
        s = self.settings
        return Endpoint(host, port, s.db_tls_mode, s.db_tls_ca_file, s.db_connect_timeout)

    @property
    def regions(self) -> tuple[str, ...]:
        """Where the mirror lives: the secret's own (primary) region, then its replica regions."""
        return tuple(dict.fromkeys((primary_region_of(self.arn), *self.state.replicas)))

    def mirror(self, secret: DbSecret) -> RegionalMirror:
        """The mirror under the secret's ``parameterPrefix``, else the function's configured prefix,
        in every region of :attr:`regions` (the primary through the function's own SSM client)."""
        explicit = secret.parameter_prefix or self.settings.parameter_prefix
        try:
            names = ParameterNames.for_prefix(explicit, {"ENV": self.settings.env})
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from None
        primary, *replicas = self.regions
        return RegionalMirror.build(
            names,
            primary,
            replicas,
            lambda region: self.ssm if region == primary else regional_ssm_client(region),
            self.settings.parameter_kms_key_id,
            self.settings.replica_parameter_kms_key_arns,
            self._throttle_retry(),
        )

    def urls(self, secret: DbSecret) -> dict[str, dict[Role, str]]:
        """Each region's writer and reader URL of ``secret`` (the region's own ``readerHost``)."""
        return urls_by_region(secret, self.url_scheme, self.regions, secret.region_reader_hosts)

    def _throttle_retry(self) -> ThrottleRetry | None:
        """Throttled writes are retried for as long as the invocation can afford; with no Lambda
        context (a direct call) botocore's own retries are all there is."""
        if self.lambda_context is None:
            return None
        remaining_s = self.lambda_context.get_remaining_time_in_millis() / 1000
        return ThrottleRetry.within(remaining_s - _THROTTLE_MARGIN_S)

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
