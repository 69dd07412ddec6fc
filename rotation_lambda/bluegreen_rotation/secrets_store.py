"""Secrets Manager access for one rotation: describe, read versions, stage the pending one, promote.

Version values are cached by (secret ARN, VersionId) for the life of the execution environment:
Secrets Manager never changes the value of an existing version, so the cache can never be stale,
and the four steps of one rotation (which usually run in the same warm environment) read each
version once. Stages are never cached: every step describes the secret afresh.

Every read names its ``VersionStage``: moto (and only moto) may return a stale value for a
``GetSecretValue`` without one after ``UpdateSecretVersionStage``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .errors import InvalidInputError
from .regions import replica_regions

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"
PREVIOUS = "AWSPREVIOUS"
_CACHE_SIZE = 16


@dataclass(frozen=True)
class SecretState:
    """What DescribeSecret says: rotation enabled, which version holds which stage, and the replicas."""

    arn: str
    name: str
    rotation_enabled: bool
    versions: dict[str, list[str]]
    replicas: tuple[str, ...] = ()
    """The replica regions (``ReplicationStatus``): Parameter Store is mirrored there too."""

    @classmethod
    def from_description(cls, meta: Mapping[str, Any]) -> SecretState:
        """From a DescribeSecret response."""
        return cls(
            arn=meta["ARN"],
            name=meta.get("Name", ""),
            rotation_enabled=bool(meta.get("RotationEnabled")),
            versions={vid: list(stages) for vid, stages in meta.get("VersionIdsToStages", {}).items()},
            replicas=replica_regions(meta),
        )

    @property
    def unfinished_pending(self) -> str | None:
        """The version holding AWSPENDING while not AWSCURRENT: a rotation that has not finished."""
        return next(
            (vid for vid, stages in self.versions.items() if PENDING in stages and CURRENT not in stages),
            None,
        )

    def version_with(self, stage: str) -> str | None:
        return next((vid for vid, stages in self.versions.items() if stage in stages), None)

    @property
    def current_version(self) -> str:
        vid = self.version_with(CURRENT)
        if vid is None:
            raise InvalidInputError(f"secret {self.arn} has no AWSCURRENT version")
        return vid


# Codes that mean the input is wrong (no retry will help); anything else, such as throttling or a
# service error, is raised as botocore's own error so it reads as transient.
_INPUT_ERRORS = {
    "ResourceNotFoundException",
    "AccessDeniedException",
    "InvalidParameterException",
    "InvalidRequestException",
    "DecryptionFailure",
    "ValidationException",
}


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


class SecretStore:
    def __init__(self, client: SecretsManagerClient) -> None:
        self._client = client
        self._values: OrderedDict[tuple[str, str], str] = OrderedDict()

    def describe(self, secret_id: str) -> SecretState:
        try:
            meta = self._client.describe_secret(SecretId=secret_id)
        except ClientError as exc:
            if error_code(exc) not in _INPUT_ERRORS:
                raise
            raise InvalidInputError(f"secret {secret_id} cannot be described: {error_code(exc)}") from None
        return SecretState.from_description(meta)

    def value(self, arn: str, version_id: str, stage: str) -> str | None:
        """The version's SecretString, or None when the version has no value yet.

        A rotation's AWSPENDING version starts as a placeholder without a value: Secrets Manager
        answers ResourceNotFoundException until createSecret puts one.
        """
        key = (arn, version_id)
        if key in self._values:
            self._values.move_to_end(key)
            return self._values[key]
        try:
            response = self._client.get_secret_value(SecretId=arn, VersionId=version_id, VersionStage=stage)
        except ClientError as exc:
            code = error_code(exc)
            if code == "ResourceNotFoundException":
                return None
            if code == "InvalidRequestException" and stage == PENDING:
                return None  # moto: a version without a value raises this instead
            raise
        text = response.get("SecretString")
        if text is not None:
            self._remember(key, text)
        return text

    def read_master(self, arn: str) -> str | None:
        """The master secret's AWSCURRENT value, always fresh (it may rotate on its own schedule)."""
        try:
            response = self._client.get_secret_value(SecretId=arn, VersionStage=CURRENT)
        except ClientError as exc:
            if error_code(exc) not in _INPUT_ERRORS:
                raise
            raise InvalidInputError(f"master secret {arn} cannot be read: {error_code(exc)}") from None
        return response.get("SecretString")

    def random_password(self, length: int, exclude_characters: str) -> str:
        kwargs: dict[str, object] = {"PasswordLength": length}
        if exclude_characters:
            kwargs["ExcludeCharacters"] = exclude_characters
        response = self._client.get_random_password(**kwargs)  # type: ignore[arg-type]
        return response["RandomPassword"]

    def put_pending(self, arn: str, token: str, text: str, rotation_token: str | None) -> None:
        kwargs: dict[str, object] = {
            "SecretId": arn,
            "ClientRequestToken": token,
            "SecretString": text,
            "VersionStages": [PENDING],
        }
        if rotation_token:
            kwargs["RotationToken"] = rotation_token
        self._client.put_secret_value(**kwargs)  # type: ignore[arg-type]
        self._remember((arn, token), text)

    def promote(self, arn: str, token: str, from_version: str) -> None:
        """Moves AWSCURRENT to the token; Secrets Manager moves AWSPREVIOUS to the old version itself."""
        self._client.update_secret_version_stage(
            SecretId=arn, VersionStage=CURRENT, MoveToVersionId=token, RemoveFromVersionId=from_version
        )

    def forget(self, arn: str) -> None:
        """Drops the cached values of a secret once its rotation is over (less secret material kept)."""
        for key in [k for k in self._values if k[0] == arn]:
            del self._values[key]

    def _remember(self, key: tuple[str, str], text: str) -> None:
        self._values[key] = text
        self._values.move_to_end(key)
        while len(self._values) > _CACHE_SIZE:
            self._values.popitem(last=False)
