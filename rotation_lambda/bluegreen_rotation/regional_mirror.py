"""The mirror of a replicated secret: Parameter Store in the primary region and every replica region.

Secrets Manager replicates the secret itself, but Parameter Store is regional, so a consumer reading
its own region's flag and URLs needs them written there too (CONTRACT.md, "Replica regions"). The
same prefix is used everywhere; the writer URL names the primary writer in every region (the writer
lives in the primary region) and each region's reader URL names that region's ``readerHost`` from the
secret's ``regions`` key, else the primary's reader.

The safe order holds across regions: every region's URLs are written before any region's flag, so no
region's flag ever names a color whose URLs are missing in some region. A region that cannot be
written raises :class:`RegionMirrorError` (the step fails, the service retries, and the blind
overwrites of the retry complete the mirror).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from bluegreen_db.naming import ROLES, Color, ParameterNames, Role

from .aws import CLIENT_CONFIG
from .errors import InvalidInputError, RotationError, RotationRefusedError
from .guards import GuardInput, check_not_in_use
from .mirror import Mirror, MirrorState
from .secret import DbSecret, validate_host
from .throttle import ThrottleRetry

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

RegionUrls = Mapping[str, Mapping[Role, str]]

_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_KMS_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):\d{12}:key/(?P<key>[A-Za-z0-9-]+)$")


class RegionMirrorError(RotationError):
    """A region's Parameter Store could not be read or written; the message names the region and the
    parameter, never the value."""


REPLICA_KMS_KEYS_VARIABLE = "REPLICA_PARAMETER_KMS_KEY_ARNS"


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
    if len(parts) < 7 or parts[2] != "secretsmanager" or not _REGION_RE.match(parts[3]):
        raise InvalidInputError("the secret ARN names no region")
    return parts[3]


def replica_regions(describe_secret: Mapping[str, Any]) -> tuple[str, ...]:
    """The replica regions of a DescribeSecret response (``ReplicationStatus``), in its order.

    Every listed replica is mirrored whatever its ``Status``: the URLs are valid credentials whether or
    not the secret's own replication is in sync, and a consumer there reads Parameter Store.
    """
    regions = [str(r["Region"]) for r in describe_secret.get("ReplicationStatus", []) if r.get("Region")]
    return tuple(dict.fromkeys(regions))


def parse_regions(value: Any) -> dict[str, str]:
    """The secret's optional ``regions`` key: ``{"<region>": {"readerHost": "<host>"}}`` → region → host."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInputError("secret key 'regions' must be an object of region → {\"readerHost\": ...}")
    hosts = {}
    for region, entry in value.items():
        if not isinstance(region, str) or not _REGION_RE.match(region):
            raise InvalidInputError(f"secret key 'regions' names {region!r}, which is not an AWS region")
        host = entry.get("readerHost") if isinstance(entry, Mapping) else None
        if not isinstance(host, str):
            raise InvalidInputError(f"secret key 'regions.{region}' has no string 'readerHost'")
        hosts[region] = validate_host(host, f"regions.{region}.readerHost")
    return hosts


def urls_by_region(
    secret: DbSecret, scheme: str, regions: Sequence[str], reader_hosts: Mapping[str, str]
) -> dict[str, dict[Role, str]]:
    """Each region's two URLs: the primary writer everywhere, the region's own reader if it has one."""
    urls: dict[str, dict[Role, str]] = {}
    for region in regions:
        local = replace(secret, reader_host=reader_hosts.get(region, secret.reader_host))
        urls[region] = {role: local.url(role, scheme) for role in ROLES}
    return urls


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


@dataclass(frozen=True)
class RegionMirror:
    region: str
    mirror: Mirror


class RegionalMirror:
    """The primary region's mirror and every replica's, read and written as one."""

    def __init__(self, targets: Sequence[RegionMirror]) -> None:
        if not targets:
            raise ValueError("a regional mirror needs at least the primary region")
        self._targets = tuple(targets)

    @classmethod
    def build(
        cls,
        names: ParameterNames,
        primary_region: str,
        replicas: Sequence[str],
        client_for: Callable[[str], SSMClient],
        primary_key: str | None = None,
        replica_keys: Sequence[str] = (),
        retry: ThrottleRetry | None = None,
    ) -> RegionalMirror:
        regions = tuple(dict.fromkeys((primary_region, *replicas)))
        return cls(
            [
                RegionMirror(
                    region,
                    Mirror(
                        client_for(region),
                        names,
                        kms_key_for_region(region, primary_region, primary_key, replica_keys),
                        retry,
                    ),
                )
                for region in regions
            ]
        )

    @property
    def regions(self) -> tuple[str, ...]:
        """The primary first, then the replicas."""
        return tuple(t.region for t in self._targets)

    @property
    def primary(self) -> Mirror:
        return self._targets[0].mirror

    def read(self) -> dict[str, MirrorState]:
        """Every region's state (the guard refuses a color that any region's flag names)."""
        return {t.region: _in_region(t.region, "read the mirror", t.mirror.read) for t in self._targets}

    def write_urls(self, color: Color, urls: RegionUrls) -> None:
        for t in self._targets:
            for role in ROLES:
                url = urls[t.region][role]
                name = t.mirror.names.url(color, role)
                _in_region(t.region, f"write {name}", partial(t.mirror.write_url, color, role, url))

    def write_flags(self, color: Color) -> None:
        for t in self._targets:
            _in_region(t.region, f"write {t.mirror.names.flag}", partial(t.mirror.write_flag, color))

    def write(self, color: Color, urls: RegionUrls) -> None:
        """finishSecret's mirror: every region's URLs, then every region's flag."""
        self.write_urls(color, urls)
        self.write_flags(color)

    def complete(self, color: Color, urls: RegionUrls) -> tuple[dict[str, MirrorState], list[str]]:
        """Makes every region mirror ``color`` (setSecret's reconciliation and an already-current
        finishSecret): the URLs that differ first, in every region, then the flags that differ.

        Returns every region's state afterwards and what was written (``region:color/role``,
        ``region:flag``), so the caller logs and counts it.
        """
        before = self.read()
        changed: list[str] = []
        for t in self._targets:
            for role in ROLES:
                url = urls[t.region][role]
                if before[t.region].url(color, role) != url:
                    name = t.mirror.names.url(color, role)
                    _in_region(t.region, f"write {name}", partial(t.mirror.write_url, color, role, url))
                    changed.append(f"{t.region}:{color}/{role}")
        for t in self._targets:
            if before[t.region].flag != color:
                _in_region(t.region, f"write {t.mirror.names.flag}", partial(t.mirror.write_flag, color))
                changed.append(f"{t.region}:flag")
        return (self.read() if changed else before), changed


def check_not_in_use_anywhere(facts: GuardInput, states: Mapping[str, MirrorState]) -> None:
    """``guards.check_not_in_use`` against every region's flag; a refusal names the region."""
    for region, state in states.items():
        try:
            check_not_in_use(replace(facts, mirror=state))
        except RotationRefusedError as exc:
            raise RotationRefusedError(f"in {region}: {exc}") from None


def _in_region(region: str, what: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise RegionMirrorError(f"could not {what} in {region}: {code}") from exc
    except BotoCoreError as exc:
        raise RegionMirrorError(f"could not {what} in {region}: {type(exc).__name__}") from exc
