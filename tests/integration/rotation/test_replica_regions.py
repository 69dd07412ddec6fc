"""A replicated secret rotated through the real handler, against MariaDB and moto's server.

moto replicates secrets (``ReplicateSecretToRegions``, ``ReplicationStatus`` in DescribeSecret) and
serves every region's Parameter Store on one endpoint, told apart by the request's signing region, so
each region's flag and URLs are read here as a consumer in that region reads them: with a client of
that region.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from app import lambda_handler
from bluegreen_db.dburl import parse_url
from bluegreen_db.naming import ParameterNames
from bluegreen_ops.devstack.moto_server import REGION
from bluegreen_ops.devstack.secrets_manager_driver import STEPS, RotationDriver
from bluegreen_rotation.errors import RotationRefusedError
from bluegreen_rotation.regions import regional_ssm_client
from bluegreen_rotation.secret import DbSecret
from tests import faults
from tests.faults import FAIL, FaultRecorder, InjectionPoint
from tests.helpers import can_login, secret_value, url_logs_in_as

REPLICAS = ("us-west-2", "eu-west-1")
READERS = {"us-west-2": "app.cluster-ro-w2.us-west-2.rds.amazonaws.com"}


@pytest.fixture(autouse=True)
def fresh_regional_clients() -> Iterator[None]:
    """Each test's regional clients are its own (fault hooks must not outlive a test)."""
    regional_ssm_client.cache_clear()
    yield
    regional_ssm_client.cache_clear()


def _replicated_stack(make_stack: Any, **kwargs: Any) -> Any:
    regions = {region: {"readerHost": host} for region, host in READERS.items()}
    stack = make_stack(extra_secret={"regions": regions}, **kwargs)
    stack.secretsmanager.replicate_secret_to_regions(
        SecretId=stack.app.secret_arn, AddReplicaRegions=[{"Region": r} for r in REPLICAS]
    )
    return stack


def _seen(region: str, prefix: str) -> dict[str, str]:
    """What a consumer in ``region`` reads: its own region's flag and URLs, decrypted."""
    names = ParameterNames(prefix)
    response = boto3.client("ssm", region_name=region).get_parameters(Names=names.all(), WithDecryption=True)
    return {p["Name"]: p["Value"] for p in response["Parameters"]}


def _assert_every_region_mirrors(stack: Any) -> None:
    current, previous = secret_value(stack), secret_value(stack, "AWSPREVIOUS")
    names = ParameterNames(stack.prefix)
    for region in (REGION, *REPLICAS):
        seen = _seen(region, stack.prefix)
        assert seen[names.flag] == _color(current), region
        for version in (current, previous):
            color = _color(version)
            writer, reader = seen[names.url(color, "writer")], seen[names.url(color, "reader")]
            assert url_logs_in_as(stack, writer, version["username"]), (region, color)
            parsed = parse_url(reader)
            assert parsed.host == READERS.get(region, current["host"]), (region, color)
            assert (parsed.username, parsed.password) == (version["username"], version["password"])


def _color(version: dict[str, Any]) -> str:
    return DbSecret.parse(json.dumps(version)).color


def test_three_rotations_mirror_every_region(make_stack: Any) -> None:
    stack = _replicated_stack(make_stack)
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    colors = []
    for _ in range(3):
        driver.rotate(stack.app.secret_arn)
        _assert_every_region_mirrors(stack)
        colors.append(_color(secret_value(stack)))
    assert colors == ["green", "blue", "green"]
    assert secret_value(stack)["regions"] == {r: {"readerHost": h} for r, h in READERS.items()}


def _puts_of_a_first_rotation(make_stack: Any) -> list[faults.Call]:
    stack = _replicated_stack(make_stack)
    with FaultRecorder(regions=REPLICAS) as recorder:
        RotationDriver(stack.secretsmanager, recorder.handler, max_attempts=1).rotate(stack.app.secret_arn)
    _assert_every_region_mirrors(stack)
    return [c for c in recorder.calls if c.name == "ssm.PutParameter"]


def test_a_fault_at_each_regional_put_parameter_converges_on_retry(make_stack: Any) -> None:
    puts = _puts_of_a_first_rotation(make_stack)
    # setSecret creates the current color's mirror in three regions, finishSecret the new color's.
    assert sorted(c.detail.split(":")[0] for c in puts if ":" in c.detail) == sorted(REPLICAS * 6)
    assert len(puts) == 18
    # Every write fails once with a server error; each replica's finishSecret flag write is also
    # throttled once (retried within the step's time, so the step itself need not fail).
    points = [InjectionPoint(c, FAIL, "InternalServerError") for c in puts]
    points += [
        InjectionPoint(c, FAIL, "ThrottlingException")
        for c in puts
        if c.step == "finishSecret" and c.detail.endswith(":blue-green-env")
    ]
    problems = []
    for point in points:
        stack = _replicated_stack(make_stack)
        with FaultRecorder(point, regions=REPLICAS) as recorder:
            driver = RotationDriver(stack.secretsmanager, recorder.handler, max_attempts=3)
            driver.rotate(stack.app.secret_arn)
        if recorder.fired is None:
            problems.append(f"{point}: never reached (diverged at {recorder.diverged})")
            continue
        failed = [(r.step, type(r.error).__name__) for r in driver.history if r.error is not None]
        if point.error_code != "ThrottlingException" and failed[:1] != [
            (point.call.step, "RegionMirrorError")
        ]:
            problems.append(f"{point}: the step did not fail on the fault: {failed}")
        _assert_every_region_mirrors(stack)
    assert not problems, problems


def test_the_guard_refuses_while_a_replica_regions_flag_names_the_color_to_change(make_stack: Any) -> None:
    stack = _replicated_stack(make_stack, grace=900)
    names = ParameterNames(stack.prefix)
    blue = secret_value(stack)
    # A consumer in eu-west-1 may still be on green (the color this first rotation changes).
    boto3.client("ssm", region_name=REPLICAS[1]).put_parameter(
        Name=names.flag, Value="green", Type="String", Overwrite=True
    )
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(stack.app.secret_arn)
    driver.run_steps(stack.app.secret_arn, token, steps=STEPS[:1])
    pending = secret_value(stack, "AWSPENDING", token)
    with pytest.raises(RotationRefusedError, match=f"^in {REPLICAS[1]}: .*green"):
        driver.run_steps(stack.app.secret_arn, token, steps=("setSecret",))
    assert not can_login(stack, pending["username"], pending["password"])
    assert secret_value(stack) == blue
    # The reconciliation moved eu-west-1's flag back to AWSCURRENT's color, restarting green's grace.
    assert _seen(REPLICAS[1], stack.prefix)[names.flag] == "blue"


def _every_region(stack: Any) -> dict[str, dict[str, str]]:
    return {region: _seen(region, stack.prefix) for region in (REGION, *REPLICAS)}


def test_every_step_run_twice_gives_the_same_state_in_every_region(make_stack: Any) -> None:
    stack = _replicated_stack(make_stack)
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(stack.app.secret_arn)
    for step in STEPS:
        driver.run_steps(stack.app.secret_arn, token, steps=(step,))
        once = (_every_region(stack), secret_value(stack))
        driver.run_steps(stack.app.secret_arn, token, steps=(step,))
        assert (_every_region(stack), secret_value(stack)) == once, f"{step} is not idempotent"
    driver.finish(stack.app.secret_arn, token)
    _assert_every_region_mirrors(stack)
