"""Guarantee 1 under fault injection: a rotation interrupted at any call, retried whole with the same
token (as Secrets Manager does), ends in the state of a rotation never interrupted.

For each scenario (the first rotation of an adopted secret, which creates the green user; and the
second, green back to blue) an uninterrupted rotation is recorded first (:mod:`tests.faults`). Then,
for every recorded call and every fault mode that applies to it, a fresh stack rotates with that call
failing once, under ``RotationDriver(max_attempts=3)``. Each run must:

- actually hit the fault, and the step that made the call must see it (exactly one failed step);
- converge: same fingerprint as the uninterrupted run, and guarantee 2 holds (flag on AWSCURRENT's
  color, each color's URLs log in as its user, AWSPREVIOUS's user still logs in);
- never hand a consumer credentials that fail: a thread reading the mirror (one GetParameters) and
  logging in with the flag's URLs throughout the run counts zero failures.

The bodies run on MariaDB and on PostgreSQL (``BOTH_ENGINES``). The database-side points differ by
what :mod:`tests.faults` wraps: on MySQL every pymysql connect and statement, on PostgreSQL every
psycopg connect; the AWS calls are the same on both.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from app import lambda_handler
from bluegreen_ops.devstack.secrets_manager_driver import RotationDriver
from bluegreen_rotation import aws
from bluegreen_rotation.errors import RotationRefusedError
from tests import faults
from tests.engine_stacks import BOTH_ENGINES
from tests.faults import (
    CRASH,
    FAIL,
    LOST_REPLY,
    Consumer,
    FaultRecorder,
    InjectionPoint,
    SimulatedCrash,
    ThrottleOnce,
    injection_points,
    rotation_state,
)

SCENARIOS = ("first", "second")


def _current_version(stack: Any) -> str:
    stages = stack.secretsmanager.describe_secret(SecretId=stack.app.secret_arn)["VersionIdsToStages"]
    return next(vid for vid, s in stages.items() if "AWSCURRENT" in s)


def _prepare(make_stack: Any, scenario: str) -> tuple[Any, str]:
    """A fresh stack, rotated once already for the second-rotation scenario; and AWSCURRENT's id."""
    stack = make_stack()
    if scenario == "second":
        RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1).rotate(stack.app.secret_arn)
    return stack, _current_version(stack)


def _record(make_stack: Any, scenario: str) -> tuple[list[faults.Call], dict[str, Any]]:
    """The calls and the end-state fingerprint of an uninterrupted rotation."""
    stack, previous = _prepare(make_stack, scenario)
    with FaultRecorder(engine=stack.engine) as recorder:
        token = RotationDriver(stack.secretsmanager, recorder.handler, max_attempts=1).rotate(
            stack.app.secret_arn
        )
    fingerprint, problems = rotation_state(stack, token, previous)
    assert not problems, problems
    faults.COVERAGE[f"calls recorded, {scenario} rotation"] = len(recorder.calls)
    return recorder.calls, fingerprint


def _lock_refusal(error: BaseException | None) -> bool:
    return isinstance(error, RotationRefusedError) and "another setSecret" in str(error)


def _inject(make_stack: Any, scenario: str, point: InjectionPoint, reference: dict[str, Any]) -> list[str]:
    """One rotation with ``point`` failing once; the list of everything that went wrong."""
    stack, previous = _prepare(make_stack, scenario)
    problems: list[str] = []
    with (
        FaultRecorder(point, engine=stack.engine) as recorder,
        Consumer(boto3.client("ssm"), stack.prefix, engine=stack.engine) as consumer,
    ):
        driver = RotationDriver(stack.secretsmanager, recorder.handler, max_attempts=3)
        try:
            token = driver.rotate(stack.app.secret_arn)
        except Exception as exc:
            return [f"the rotation did not converge: {type(exc).__name__}: {exc}"]
    if recorder.fired is None:
        problems.append(f"the fault was never reached (the sequence changed at {recorder.diverged})")
    failed = [r for r in driver.history if r.error is not None]
    for r in failed:
        print(f"  {point} -> {r.step} attempt {r.attempt}: {type(r.error).__name__}: {r.error}")
    # The step that made the call sees the fault. A retry racing the server's release of the named
    # lock of a dropped connection may be refused once more: the service would simply retry again.
    later = [r for r in failed[1:] if not _lock_refusal(r.error)]
    if not failed or failed[0].step != point.call.step or later:
        seen = [(r.attempt, r.step, type(r.error).__name__) for r in failed]
        problems.append(f"expected one failed {point.call.step}, the driver saw {seen}")
    fingerprint, state_problems = rotation_state(stack, token, previous)
    problems += state_problems
    if fingerprint != reference:
        diff = {k: (v, reference.get(k)) for k, v in fingerprint.items() if v != reference.get(k)}
        problems.append(f"the end state differs from an uninterrupted rotation: {diff}")
    stats = consumer.stats
    if stats.failures:
        problems.append(f"the consumer got failing credentials {len(stats.failures)}x: {stats.failures[:3]}")
    if not stats.logins:
        problems.append("the consumer never logged in")
    return problems


@BOTH_ENGINES
@pytest.mark.parametrize("mode", [FAIL, LOST_REPLY, CRASH])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_call_fails_once_and_the_retry_converges(make_stack: Any, scenario: str, mode: str) -> None:
    calls, reference = _record(make_stack, scenario)
    points = injection_points(calls, (mode,))
    assert points, "nothing to inject"
    broken: dict[str, list[str]] = {}
    for point in points:
        problems = _inject(make_stack, scenario, point, reference)
        if problems:
            broken[str(point)] = problems
    faults.COVERAGE[f"points {scenario} rotation, {mode}"] = len(points)
    print(f"{scenario} rotation, {mode}: {len(points)} injection points")  # its time: pytest --durations
    assert not broken, "\n".join(f"{p}: {'; '.join(v)}" for p, v in broken.items())


def _finish_write(calls: list[faults.Call], detail: str) -> faults.Call:
    return next(c for c in calls if c.step == "finishSecret" and c.detail == detail)


@BOTH_ENGINES
@pytest.mark.parametrize("write", ["green/writer-db-url", "green/reader-db-url", "blue-green-env"])
def test_crash_after_each_finish_secret_write(make_stack: Any, write: str) -> None:
    """The function dies right after each Parameter Store write of finishSecret; the retry finishes.

    Between the crash and the retry the mirror is half written: the flag still names blue until the
    last write, and whatever it names logs in.
    """
    calls, reference = _record(make_stack, "first")
    order = [c.detail for c in calls if c.step == "finishSecret" and c.name == "ssm.PutParameter"]
    assert order == ["green/writer-db-url", "green/reader-db-url", "blue-green-env"], "URLs first, flag last"
    point = InjectionPoint(_finish_write(calls, write), CRASH)
    stack, previous = _prepare(make_stack, "first")
    consumer = Consumer(boto3.client("ssm"), stack.prefix, engine=stack.engine)
    with FaultRecorder(point, engine=stack.engine) as recorder:
        driver = RotationDriver(stack.secretsmanager, recorder.handler, max_attempts=3)
        token = driver.start(stack.app.secret_arn)
        with pytest.raises(SimulatedCrash):
            driver.run_steps(stack.app.secret_arn, token)
        assert [(r.step, r.error is None) for r in driver.history] == [
            ("createSecret", True),
            ("setSecret", True),
            ("testSecret", True),
            ("finishSecret", False),
        ]
        flag = stack.ssm.get_parameter(Name=f"{stack.prefix}/blue-green-env")["Parameter"]["Value"]
        assert flag == ("green" if write == "blue-green-env" else "blue")
        assert _current_version(stack) == previous, "AWSCURRENT moved before the mirror was complete"
        consumer.once()
        assert consumer.stats.logins == 2
        assert not consumer.stats.failures
        # The service retries the whole rotation with the same token, in a new execution environment.
        with consumer:
            assert driver.rotate(stack.app.secret_arn, token) == token
    assert [r.attempt for r in driver.history if r.error is not None] == [1]
    fingerprint, problems = rotation_state(stack, token, previous)
    assert not problems, problems
    assert fingerprint == reference
    assert not consumer.stats.failures
    faults.count("targeted: crash after a finishSecret write, half-written state checked")


@BOTH_ENGINES
@pytest.mark.parametrize(("step", "nth"), [("setSecret", 1), ("finishSecret", 4)])
def test_botocore_retries_a_throttled_put_parameter(make_stack: Any, step: str, nth: int) -> None:
    """A throttled PutParameter below botocore's retry loop: retried by botocore, no step fails."""
    stack, previous = _prepare(make_stack, "first")
    throttle = ThrottleOnce("PutParameter", nth=nth)
    client = aws.ssm_client()
    client.meta.events.register("before-send.ssm.PutParameter", throttle, unique_id="faults-throttle")
    try:
        with FaultRecorder(engine=stack.engine) as recorder:
            driver = RotationDriver(stack.secretsmanager, recorder.handler, max_attempts=1)
            token = driver.rotate(stack.app.secret_arn)
    finally:
        client.meta.events.unregister("before-send.ssm.PutParameter", unique_id="faults-throttle")
    assert throttle.throttled == 1
    puts = [c for c in recorder.calls if c.name == "ssm.PutParameter"]
    assert throttle.sent == len(puts) + 1, "the throttled request was sent again by botocore"
    assert puts[nth - 1].step == step
    assert recorder.retried == [puts[nth - 1].index], "botocore's own retry, seen in ResponseMetadata"
    assert [(r.step, r.attempt, r.error) for r in driver.history] == [
        (s, 1, None) for s in ("createSecret", "setSecret", "testSecret", "finishSecret")
    ]
    _fingerprint, problems = rotation_state(stack, token, previous)
    assert not problems, problems
    faults.count("targeted: PutParameter throttled below botocore's retries, no step failure")


def test_a_lost_connection_in_set_secret_is_reported_as_the_cause(make_stack: Any) -> None:
    """The failure reason (the step's error: CloudWatch, the rotation's failure) names what failed.

    MySQL's alone (the default ``engine_stack``): it drops one statement, which is injected on MySQL
    only (:mod:`tests.faults`), and pins pymysql's error code.

    pymysql drops a connection it lost (2013). ``Admin.rotation_lock`` then runs ``RELEASE_LOCK`` on
    the dead connection in its ``finally``, and that error replaces the real one: setSecret reports
    "SELECT RELEASE_LOCK(%s) failed: (0)" instead of "ALTER USER failed: (2013) Lost connection".
    """
    calls, _reference = _record(make_stack, "first")
    alter = next(c for c in calls if c.name.startswith("ALTER USER"))
    stack, _previous = _prepare(make_stack, "first")
    with FaultRecorder(InjectionPoint(alter, FAIL), engine=stack.engine) as recorder:
        driver = RotationDriver(stack.secretsmanager, recorder.handler, max_attempts=3)
        driver.rotate(stack.app.secret_arn)
    error = next(r.error for r in driver.history if r.error is not None)
    assert "(2013) Lost connection" in str(error), f"the cause is lost: {error}"
    assert "ALTER USER" in str(error)
