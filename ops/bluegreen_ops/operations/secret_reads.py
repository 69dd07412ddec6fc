"""Reads of the secret as the function sees it: DescribeSecret's stages, versions parsed by its parser.

Every password read is registered with the run's reporter, so output can mask it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import (
    ClientError,
)

from bluegreen_rotation.errors import InvalidInputError
from bluegreen_rotation.secret import DbSecret
from bluegreen_rotation.secrets_store import CURRENT, PENDING, PREVIOUS, SecretState, error_code

if TYPE_CHECKING:
    pass
from ..devstack.secrets_manager_driver import PLACEHOLDER_LAMBDA_ARN
from .env import Env
from .errors import OperationError


@dataclass(frozen=True)
class SecretMeta:
    """DescribeSecret's answer: the stages (as the function sees them) and what an operator wants to see."""

    state: SecretState
    rotation_lambda_arn: str | None
    last_rotated: datetime | None
    next_rotation: datetime | None

    @property
    def arn(self) -> str:
        return self.state.arn

    def staged_versions(self) -> Iterator[tuple[str, list[str]]]:
        """Versions holding a stage, AWSCURRENT first, then AWSPENDING, AWSPREVIOUS and any other label."""
        order = {CURRENT: 0, PENDING: 1, PREVIOUS: 2}

        def rank(item: tuple[str, list[str]]) -> tuple[int, str]:
            return (min((order.get(s, 3) for s in item[1]), default=4), item[0])

        yield from sorted(((v, s) for v, s in self.state.versions.items() if s), key=rank)

    @property
    def stuck_pending(self) -> str | None:
        """The version holding AWSPENDING when it is not AWSCURRENT's: a rotation has not finished."""
        return self.state.unfinished_pending

    @property
    def function_name(self) -> str | None:
        if not self.rotation_lambda_arn or self.rotation_lambda_arn == PLACEHOLDER_LAMBDA_ARN:
            return None  # none, or the local driver's placeholder: there are no logs to tail
        return self.rotation_lambda_arn.split(":function:", 1)[-1].split(":", 1)[0]

    def logs_hint(self, since: str) -> str:
        """How to read the rotation function's logs: the one place the CLI names them.

        template.yaml's LoggingConfig writes to /aws/lambda/<stack>-rotation, not to
        /aws/lambda/<function name>, so the command asks Lambda which log group the function uses.
        """
        fn = self.function_name
        if fn is None:
            return "the rotation function's logs"
        group = (
            f"aws lambda get-function-configuration --function-name {fn} "
            "--query LoggingConfig.LogGroup --output text"
        )
        return f'`aws logs tail "$({group})" --since {since}` (template.yaml: /aws/lambda/<stack>-rotation)'


def describe(env: Env) -> SecretMeta:
    try:
        meta = env.sm.describe_secret(SecretId=env.secret_id)
    except ClientError as exc:
        code = error_code(exc)
        if code == "ResourceNotFoundException":
            raise OperationError(
                f"secret {env.secret_id!r} not found in this account and region", code="not-found"
            ) from None
        raise
    return SecretMeta(
        state=SecretState.from_description(meta),
        rotation_lambda_arn=meta.get("RotationLambdaARN"),
        last_rotated=meta.get("LastRotatedDate"),
        next_rotation=meta.get("NextRotationDate"),
    )


def read_version(env: Env, meta: SecretMeta, version_id: str, what: str) -> DbSecret | None:
    """One version parsed by the function's own parser (None: a placeholder with no value yet)."""
    stages = meta.state.versions.get(version_id, [])
    stage = next((s for s in (CURRENT, PENDING, PREVIOUS) if s in stages), stages[0] if stages else CURRENT)
    text = env.store.value(meta.arn, version_id, stage)
    if text is None:
        if holds_binary(env, meta.arn, version_id, stage):
            raise InvalidInputError(
                f"{what} holds a SecretBinary, not a SecretString: this rotation handles only JSON "
                "SecretString secrets (RDS/Aurora format)"
            )
        return None
    secret = DbSecret.parse(text, what)
    env.out.protect_secret(secret)
    return secret


def holds_binary(env: Env, arn: str, version_id: str, stage: str) -> bool:
    """Whether a version without a SecretString has a SecretBinary (not a placeholder without value)."""
    try:
        response = env.sm.get_secret_value(SecretId=arn, VersionId=version_id, VersionStage=stage)
    except ClientError:
        return False
    return "SecretBinary" in response and response.get("SecretString") is None


def read_stage(env: Env, meta: SecretMeta, stage: str) -> tuple[str, DbSecret] | None:
    vid = meta.state.version_with(stage)
    if vid is None:
        return None
    secret = read_version(env, meta, vid, f"{stage} version {vid}")
    if secret is None:
        raise OperationError(f"{stage} version {vid} of {meta.arn} has no value")
    return vid, secret
