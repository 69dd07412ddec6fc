"""The settings setSecret's guards use (grace, session policy): the deployed function's when readable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bluegreen_rotation.config import Settings
from bluegreen_rotation.errors import InvalidInputError

if TYPE_CHECKING:
    pass
from .clients import read_function_variables
from .env import Env
from .secret_reads import SecretMeta


@dataclass(frozen=True)
class GuardSettings:
    """The settings setSecret's guards use, and where they were read."""

    grace_seconds: int
    session_policy: str
    source: str  # "the function" or "this shell"

    @classmethod
    def of_shell(cls, settings: Settings) -> GuardSettings:
        """This shell's: the settings the function runs with under ``--local``."""
        return cls(settings.rotation_grace_seconds, settings.active_session_policy, "this shell")

    def describe(self) -> str:
        return (
            f"ROTATION_GRACE_SECONDS={self.grace_seconds}, ACTIVE_SESSION_POLICY={self.session_policy} "
            f"(from {self.source})"
        )


def guard_settings(env: Env, meta: SecretMeta) -> GuardSettings:
    """ROTATION_GRACE_SECONDS and ACTIVE_SESSION_POLICY as the deployed function has them, when its
    configuration can be read; else this shell's (the same variables, the same defaults)."""
    shell = GuardSettings.of_shell(env.settings)
    if meta.function_name is None or meta.rotation_lambda_arn is None:
        return shell
    variables = read_function_variables(meta.rotation_lambda_arn, region=env.region, profile=env.profile)
    if variables is None:
        return shell
    try:
        function = Settings.from_env(
            {k: v for k, v in variables.items() if k in ("ROTATION_GRACE_SECONDS", "ACTIVE_SESSION_POLICY")}
        )
    except InvalidInputError:
        return shell  # the function itself would fail on them: its own error says so
    return GuardSettings(function.rotation_grace_seconds, function.active_session_policy, "the function")
