"""Where a replicated secret's mirror lives: its primary and replica regions, each region's reader
host and Parameter Store key, and an SSM client per region.

The facts come from the caller (DescribeSecret's ``ReplicationStatus``, the secret's ``regions`` key,
the function's environment); ``regional_mirror`` writes with them.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import boto3

from .aws import CLIENT_CONFIG
from .errors import InvalidInputError
from .secret import REGION_RE, parse_regions

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

_KMS_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):\d{12}:key/(?P<key>[A-Za-z0-9-]+)$")

REPLICA_KMS_KEYS_VARIABLE = "REPLICA_PARAMETER_KMS_KEY_ARNS"

__all__ = [
    "kms_key_for_region",
    "parse_regions",
    "primary_region_of",
    "regional_ssm_client",
    "replica_kms_keys",
    "replica_regions",
]


@functools.cache
def regional_ssm_client(region: str) -> SSMClient:
    """A plain SSM client in ``region``, cached per execution environment like ``aws.ssm_client``.

    ``AWS_ENDPOINT_URL_SSM``/``AWS_ENDPOINT_URL`` redirect it too; moto's server tells the regions
    apart by the request signature's region, so one local endpoint serves them all.
    """
    return boto3.client("ssm", region_name=region, config=CLIENT_CONFIG)


def replica_kms_keys(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The replica regions' Parameter Store key ARNs (comma-separated in REPLICA_PARAMETER_KMS_KEY_ARNS)."""
    env = os.environ if environ is None else environ
    keys = tuple(k.strip() for k in env.get(REPLICA_KMS_KEYS_VARIABLE, "").split(",") if k.strip())
    for key in keys:
        if not _KMS_ARN_RE.match(key):
            raise InvalidInputError(f"{REPLICA_KMS_KEYS_VARIABLE} holds {key!r}, which is not a KMS key ARN")
    return keys


def primary_region_of(secret_arn: str) -> str:
    """The region of the secret the service invokes the function for: always the primary's (a replica
    is read-only, and Secrets Manager rotates the primary and replicates the result)."""
    parts = secret_arn.split(":")
    if len(parts) < 7 or parts[2] != "secretsmanager" or not REGION_RE.match(parts[3]):
        raise InvalidInputError("the secret ARN names no region")
    return parts[3]


def replica_regions(describe_secret: Mapping[str, Any]) -> tuple[str, ...]:
    """The replica regions of a DescribeSecret response (``ReplicationStatus``), in its order.

    Every listed replica is mirrored whatever its ``Status``: the URLs are valid credentials whether or
    not the secret's own replication is in sync, and a consumer there reads Parameter Store.
    """
    regions = [str(r["Region"]) for r in describe_secret.get("ReplicationStatus", []) if r.get("Region")]
    return tuple(dict.fromkeys(regions))


def kms_key_for_region(
    region: str, primary_region: str, primary_key: str | None, replica_keys: Sequence[str]
) -> str | None:
    """The SecureString key to use in ``region``.

    A KMS key ARN is regional: a replica region uses the key of ``replica_keys`` whose ARN names that
    region, else the primary key's replica when it is a multi-Region key (``mrk-``: same key id in
    every region). No key anywhere means the account's ``aws/ssm`` in every region. A customer key in
    the primary region with none for the replica is refused rather than silently weakened to aws/ssm.
    """
    if region == primary_region:
        return primary_key
    for arn in replica_keys:
        match = _KMS_ARN_RE.match(arn)
        if match and match.group("region") == region:
            return arn
    if primary_key is None and not replica_keys:
        return None
    match = _KMS_ARN_RE.match(primary_key) if primary_key else None
    if primary_key and match and match.group("key").startswith("mrk-"):
        return primary_key.replace(f":kms:{match.group('region')}:", f":kms:{region}:", 1)
    raise InvalidInputError(
        f"no Parameter Store KMS key for replica region {region}: list one in the stack's "
        "ReplicaParameterKmsKeyArns (REPLICA_PARAMETER_KMS_KEY_ARNS) or use a multi-Region key"
    )
