"""`bluegreen status` of a replicated secret: every region's flag and URLs, as consumers there read them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from app import lambda_handler
from bluegreen_db.naming import ParameterNames
from bluegreen_ops.devstack.moto_server import REGION
from bluegreen_ops.devstack.secrets_manager_driver import RotationDriver
from bluegreen_rotation.regions import regional_ssm_client
from tests.helpers import stages
from tests.integration.cli.conftest import Cli

REPLICAS = ("us-west-2", "eu-west-1")
READER = "app.cluster-ro-w2.us-west-2.rds.amazonaws.com"


@pytest.fixture
def replicated(make_stack: Any) -> Iterator[Any]:
    regional_ssm_client.cache_clear()
    stack = make_stack(extra_secret={"regions": {REPLICAS[0]: {"readerHost": READER}}})
    stack.secretsmanager.replicate_secret_to_regions(
        SecretId=stack.app.secret_arn, AddReplicaRegions=[{"Region": r} for r in REPLICAS]
    )
    RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1).rotate(stack.app.secret_arn)
    yield stack
    regional_ssm_client.cache_clear()


def test_status_shows_every_region_and_each_regions_reader(replicated: Any) -> None:
    cli = Cli(replicated)
    document = cli.json("status")
    assert document["consistent"] is True, document["problems"]
    regions = {r["region"]: r for r in document["regions"]}
    assert list(regions) == [REGION, *REPLICAS] and regions[REGION]["primary"] is True
    for region in regions.values():
        assert region["flag"]["value"] == "green" and region["error"] is None
        assert {u["state"] for u in region["urls"]} == {"ok"}
    west_reader = next(u for u in regions[REPLICAS[0]]["urls"] if u["role"] == "reader")
    assert f"@{READER}:" in west_reader["url"]
    table = cli("status").stdout
    assert f"Region    {REPLICAS[0]} (replica): flag = green" in table
    assert f"Region    {REPLICAS[1]} (replica): flag = green" in table


def test_a_replica_regions_stale_flag_and_missing_url_are_problems(replicated: Any) -> None:
    names = ParameterNames(replicated.prefix)
    east = boto3.client("ssm", region_name=REPLICAS[1])
    east.put_parameter(Name=names.flag, Value="blue", Type="String", Overwrite=True)
    boto3.client("ssm", region_name=REPLICAS[0]).delete_parameter(Name=names.url("green", "reader"))
    document = Cli(replicated).json("status", expect=3)
    messages = [p["message"] for p in document["problems"]]
    assert any(m.startswith(f"in {REPLICAS[0]}: the flag names green but green's URLs") for m in messages)
    assert any(
        m.startswith(f"in {REPLICAS[1]}: the flag names blue but AWSCURRENT is green") for m in messages
    )
    assert all("setSecret completes every region" in p["fix"] for p in document["problems"])


def test_status_of_a_secret_without_replicas_has_no_regions(cli: Any) -> None:
    cli("adopt")
    assert "regions" not in cli.json("status")
    assert "Region    " not in cli("status").stdout


def test_rotate_now_refuses_before_starting_while_a_replica_flag_names_the_color_to_change(
    make_stack: Any,
) -> None:
    """setSecret's guard reads every region's flag; rotate-now's pre-check forecasts the same, so a
    consumer in a replica region still on green stops the rotation before RotateSecret stages anything."""
    regional_ssm_client.cache_clear()
    stack = make_stack(grace=900, extra_secret={"regions": {REPLICAS[0]: {"readerHost": READER}}})
    stack.secretsmanager.replicate_secret_to_regions(
        SecretId=stack.app.secret_arn, AddReplicaRegions=[{"Region": r} for r in REPLICAS]
    )
    cli = Cli(stack)
    cli("adopt")
    boto3.client("ssm", region_name=REPLICAS[1]).put_parameter(
        Name=ParameterNames(stack.prefix).flag, Value="green", Type="String", Overwrite=True
    )
    document = cli.json("rotate-now", "--local", expect=4)
    message = document["error"]["message"]
    assert f"in {REPLICAS[1]}:" in message and "nothing was staged" in message, message
    assert all("AWSPENDING" not in labels for labels in stages(stack).values())
    next_line = cli("status", expect=3).stdout  # inconsistent: eu-west-1 names a color it lacks URLs of
    assert f"would be refused: in {REPLICAS[1]}:" in next_line
    regional_ssm_client.cache_clear()
