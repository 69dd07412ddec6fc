"""The regional mirror against moto's server, which serves every region on one endpoint.

A secret replicated to two regions (moto replicates: ``ReplicationStatus``, the replica readable in
its own region, the values following the primary, pinned below), its replica regions read from
DescribeSecret, and the flag and URLs checked in every region with independent clients after each
write. A fault injected at each regional PutParameter in turn fails the write, and the retry
converges. No database is involved: the mirror only writes Parameter Store.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from bluegreen_db.dburl import parse_url
from bluegreen_db.naming import ROLES, Color, ParameterNames
from bluegreen_ops.devstack.moto_server import REGION, MotoServer
from bluegreen_rotation.regional_mirror import RegionalMirror, RegionMirrorError, urls_by_region
from bluegreen_rotation.regions import regional_ssm_client, replica_regions
from bluegreen_rotation.secret import DbSecret
from bluegreen_rotation.throttle import ThrottleRetry

REPLICAS = ("us-west-2", "eu-west-1")
READERS = {"us-west-2": "app.cluster-ro-w2.us-west-2.rds.amazonaws.com"}
_counter = itertools.count(1)


@pytest.fixture
def regional_clients(moto_server: MotoServer) -> Iterator[None]:
    """Fresh cached regional clients (the fault hooks below must not outlive the test)."""
    regional_ssm_client.cache_clear()
    yield
    regional_ssm_client.cache_clear()


@pytest.fixture
def replicated(moto_server: MotoServer) -> tuple[str, DbSecret, ParameterNames]:
    n = next(_counter)
    value = {
        "engine": "aurora-mysql",
        "host": "app.cluster-abc.us-east-1.rds.amazonaws.com",
        "username": "app",
        "password": "p@ss:w/rd%",
        "masterarn": f"arn:aws:secretsmanager:{REGION}:123456789012:secret:master-AbCdEf",
        "dbname": "app",
        "regions": {region: {"readerHost": host} for region, host in READERS.items()},
    }
    sm = boto3.client("secretsmanager", region_name=REGION)
    arn = sm.create_secret(
        Name=f"regional/t{n}",
        SecretString=json.dumps(value),
        AddReplicaRegions=[{"Region": REPLICAS[0]}],
    )["ARN"]
    sm.replicate_secret_to_regions(SecretId=arn, AddReplicaRegions=[{"Region": REPLICAS[1]}])
    return arn, DbSecret.parse(json.dumps(value)), ParameterNames(f"/db/regional{n}")


def _mirror(arn: str, names: ParameterNames, retry: ThrottleRetry | None = None) -> RegionalMirror:
    describe = boto3.client("secretsmanager", region_name=REGION).describe_secret(SecretId=arn)
    return RegionalMirror.build(names, REGION, replica_regions(describe), regional_ssm_client, retry=retry)


def _urls(secret: DbSecret, regions: tuple[str, ...]) -> dict[str, dict[Any, str]]:
    return urls_by_region(secret, "mysql+pymysql", regions, secret.region_reader_hosts)


def _seen(region: str, names: ParameterNames) -> dict[str, str]:
    """What a consumer in ``region`` reads: its own region's parameters, decrypted."""
    ssm = boto3.client("ssm", region_name=region)
    response = ssm.get_parameters(Names=names.all(), WithDecryption=True)
    return {p["Name"]: p["Value"] for p in response["Parameters"]}


def _assert_mirrored(secret: DbSecret, names: ParameterNames, color: Color) -> None:
    for region in (REGION, *REPLICAS):
        seen = _seen(region, names)
        assert seen[names.flag] == color, region
        writer = parse_url(seen[names.url(color, "writer")])
        reader = parse_url(seen[names.url(color, "reader")])
        assert (writer.host, writer.username, writer.password) == (
            secret.host,
            secret.username,
            secret.password,
        )
        assert reader.host == READERS.get(region, secret.reader_host), region
        assert reader.password == secret.password


def test_three_writes_mirror_every_region(
    regional_clients: None, replicated: tuple[str, DbSecret, ParameterNames]
) -> None:
    arn, secret, names = replicated
    mirror = _mirror(arn, names)
    assert mirror.regions == (REGION, *REPLICAS)
    for password in ("first", "second", "third"):
        secret = secret.next_version(password)
        mirror.write(secret.color, _urls(secret, mirror.regions))
        _assert_mirrored(secret, names, secret.color)
    states = mirror.read()
    assert set(states) == {REGION, *REPLICAS}
    assert {s.flag for s in states.values()} == {secret.color}


class FailNthPut:
    """Fails the ``n``-th PutParameter across every regional client (a 500 raised above botocore's
    retries, so the caller sees it), then lets every later call through."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.count = 0
        self.failed: tuple[str, str] | None = None

    def hit(self, region: str, name: str) -> None:
        self.count += 1
        if self.count == self.n:
            self.failed = (region, name)
            raise ClientError(
                {"Error": {"Code": "InternalServerError", "Message": "injected"}}, "PutParameter"
            )


def test_a_fault_at_each_regional_put_converges_on_retry(
    regional_clients: None, replicated: tuple[str, DbSecret, ParameterNames]
) -> None:
    arn, secret, names = replicated
    regions = (REGION, *REPLICAS)
    puts = len(regions) * (len(ROLES) + 1)
    for n in range(1, puts + 1):
        secret = secret.next_version(f"password-{n}")
        fault = FailNthPut(n)
        for region in regions:
            client = regional_ssm_client(region)
            client.meta.events.register(
                "before-parameter-build.ssm.PutParameter",
                _with_region(fault, region),
                unique_id=f"fault-{region}",
            )
        try:
            mirror = _mirror(arn, names)
            with pytest.raises(RegionMirrorError) as caught:
                mirror.write(secret.color, _urls(secret, regions))
            assert fault.failed and fault.failed[0] in str(caught.value)
            assert secret.password not in str(caught.value)
            # No region's flag names the new color unless every region's URLs are already written.
            flags = {r: _seen(r, names).get(names.flag) for r in regions}
            if n <= len(regions) * len(ROLES):
                assert secret.color not in flags.values(), (n, flags)
            mirror.write(secret.color, _urls(secret, regions))  # the service's retry of the step
            _assert_mirrored(secret, names, secret.color)
        finally:
            for region in regions:
                regional_ssm_client(region).meta.events.unregister(
                    "before-parameter-build.ssm.PutParameter", unique_id=f"fault-{region}"
                )


def _with_region(fault: FailNthPut, region: str) -> Any:
    def hook(params: dict[str, Any], **_: Any) -> None:
        fault.hit(region, params["Name"])

    return hook


def test_throttling_at_a_replica_is_absorbed_within_the_budget(
    regional_clients: None, replicated: tuple[str, DbSecret, ParameterNames]
) -> None:
    arn, secret, names = replicated
    throttles = iter(range(3))

    def throttle(**_: Any) -> None:
        if next(throttles, None) is not None:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutParameter"
            )

    client = regional_ssm_client(REPLICAS[1])
    client.meta.events.register("before-parameter-build.ssm.PutParameter", throttle, unique_id="throttle")
    try:
        retry = ThrottleRetry.within(30, sleep=lambda _: None)
        _mirror(arn, names, retry).write("green", _urls(secret.next_version("x"), (REGION, *REPLICAS)))
    finally:
        client.meta.events.unregister("before-parameter-build.ssm.PutParameter", unique_id="throttle")
    assert retry.absorbed == 3
    _assert_mirrored(secret.next_version("x"), names, "green")


def test_moto_replicates_secrets(replicated: tuple[str, DbSecret, ParameterNames]) -> None:
    """Pins what moto does with replicas (docs/conformance.md): AddReplicaRegions and
    ReplicateSecretToRegions are accepted, every replica is InSync at once, the replica answers in its
    region under its regional ARN with PrimaryRegion set, and its versions and stages follow the
    primary's (a read that names its stage gets the promoted value)."""
    arn, _, _ = replicated
    primary = boto3.client("secretsmanager", region_name=REGION)
    status = primary.describe_secret(SecretId=arn)["ReplicationStatus"]
    assert [(s["Region"], s["Status"]) for s in status] == [(r, "InSync") for r in REPLICAS]
    version = primary.put_secret_value(SecretId=arn, SecretString='{"v": 2}', VersionStages=["AWSPENDING"])
    stages = primary.describe_secret(SecretId=arn)["VersionIdsToStages"]
    current = next(v for v, labels in stages.items() if "AWSCURRENT" in labels)
    primary.update_secret_version_stage(
        SecretId=arn,
        VersionStage="AWSCURRENT",
        MoveToVersionId=version["VersionId"],
        RemoveFromVersionId=current,
    )
    promoted = primary.describe_secret(SecretId=arn)["VersionIdsToStages"]
    for region in REPLICAS:
        replica = boto3.client("secretsmanager", region_name=region)
        replica_arn = arn.replace(f":{REGION}:", f":{region}:")
        described = replica.describe_secret(SecretId=replica_arn)
        assert described["PrimaryRegion"] == REGION
        assert described["VersionIdsToStages"] == promoted
        value = replica.get_secret_value(SecretId=replica_arn, VersionStage="AWSCURRENT")
        assert (value["VersionId"], value["SecretString"]) == (version["VersionId"], '{"v": 2}')
