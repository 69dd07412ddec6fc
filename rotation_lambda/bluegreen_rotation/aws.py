"""Plain boto3 clients, created once per execution environment and reused by warm invocations.

They are ordinary clients so the standard ``AWS_ENDPOINT_URL*`` variables redirect them (how tests
and the demo reach moto's server). botocore's standard retry mode backs off on throttling and
transient errors; timeouts keep a step inside its Lambda budget.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=10,
    user_agent_extra="bluegreen-rotation",
)


@functools.cache
def secretsmanager_client() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=CLIENT_CONFIG)


@functools.cache
def ssm_client() -> SSMClient:
    return boto3.client("ssm", config=CLIENT_CONFIG)


def reset_clients() -> None:
    """Forget cached clients (tests that change endpoints between stacks)."""
    secretsmanager_client.cache_clear()
    ssm_client.cache_clear()
