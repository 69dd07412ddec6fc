"""The AWS clients an operation uses: plain boto3 clients, so AWS_ENDPOINT_URL* redirect them."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoRegionError,
    ProfileNotFound,
)

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

from .errors import OperationError

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=15,
    user_agent_extra="bluegreen-cli",
)


_LAMBDA_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 2},
    connect_timeout=3,
    read_timeout=5,
    user_agent_extra="bluegreen-cli",
)


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_clients(region: str | None, profile: str | None) -> tuple[SecretsManagerClient, SSMClient]:
    """Plain boto3 clients from a session, so AWS_ENDPOINT_URL* redirect them like the function's."""
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
        return (
            session.client("secretsmanager", config=CLIENT_CONFIG),
            session.client("ssm", config=CLIENT_CONFIG),
        )
    except ProfileNotFound as exc:
        raise OperationError(f"{exc} (see ~/.aws/config)") from None
    except NoRegionError:
        raise OperationError(
            "no AWS region: pass --region, or set AWS_REGION or AWS_DEFAULT_REGION"
        ) from None


def read_function_variables(
    function_arn: str, *, region: str | None, profile: str | None
) -> dict[str, str] | None:
    """The rotation function's environment variables (GetFunctionConfiguration), or None when they
    cannot be read (no lambda:GetFunctionConfiguration permission, another account, no network)."""
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
        client: Any = session.client("lambda", config=_LAMBDA_CONFIG)
        config = client.get_function_configuration(FunctionName=function_arn)
    except (ClientError, BotoCoreError):
        return None
    variables = config.get("Environment", {}).get("Variables", {})
    return {str(k): str(v) for k, v in variables.items()}
