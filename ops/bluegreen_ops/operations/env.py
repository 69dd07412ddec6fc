"""The clients, settings and reporter of one operation run, and what they derive from the secret."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bluegreen_db.naming import ParameterNames
from bluegreen_rotation.config import Settings
from bluegreen_rotation.engines.base import Endpoint
from bluegreen_rotation.mirror import Mirror
from bluegreen_rotation.secret import DbSecret, MasterSecret
from bluegreen_rotation.secrets_store import SecretStore

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

from ..exit_codes import EXIT_USAGE
from .clients import is_loopback_url
from .errors import OperationError, Staged, abandon_command
from .reporting import Reporter


@dataclass
class Env:
    """The clients, settings and reporter of one operation run."""

    secret_id: str
    out: Reporter
    settings: Settings
    sm: SecretsManagerClient
    ssm: SSMClient
    prefix_option: str | None = None
    region: str | None = None
    profile: str | None = None
    store: SecretStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = SecretStore(self.sm)

    @property
    def emulator(self) -> str | None:
        """The Secrets Manager endpoint when it is a local emulator (a loopback address), else None.

        moto's RotateSecret never invokes a rotation function: against it, only ``--local`` rotates.
        """
        endpoint = getattr(getattr(self.sm, "meta", None), "endpoint_url", None)
        return endpoint if isinstance(endpoint, str) and is_loopback_url(endpoint) else None

    @property
    def sid(self) -> str:
        return shlex.quote(self.secret_id)

    def rotate_command(self, token: str | None = None) -> str:
        """The rotate-now command line for this secret (``--local`` on an emulator)."""
        local = " --local" if self.emulator else ""
        return f"bluegreen rotate-now{local} --secret-id {self.sid}" + (f" --token {token}" if token else "")

    def names_for(self, secret: DbSecret | None) -> ParameterNames:
        """The secret's ``parameterPrefix``, else ``--parameter-prefix``, PARAMETER_PREFIX, /db/{ENV}."""
        explicit = (secret.parameter_prefix if secret else None) or self.prefix_option
        explicit = explicit or self.settings.parameter_prefix
        try:
            return ParameterNames.for_prefix(explicit, {"ENV": self.settings.env})
        except ValueError as exc:
            raise OperationError(str(exc), EXIT_USAGE) from None

    def mirror_for(self, secret: DbSecret | None) -> Mirror:
        return Mirror(self.ssm, self.names_for(secret), self.settings.parameter_kms_key_id)

    def endpoint(self, host: str, port: int) -> Endpoint:
        s = self.settings
        return Endpoint(host, port, s.db_tls_mode, s.db_tls_ca_file, s.db_connect_timeout)

    def master(self, secret: DbSecret) -> MasterSecret:
        master = MasterSecret.parse(self.store.read_master(secret.masterarn), secret)
        self.out.protect_secret(master)
        return master

    def staged(self, arn: str, version_id: str) -> Staged:
        """What a rotation left on ``version_id``, with the commands that retry or clear it."""
        return Staged(version_id, self.rotate_command(version_id), abandon_command(arn, version_id))
