"""The service's configuration test: RotateSecret with RotateImmediately=false.

AWS (RotateSecret API reference, ``RotateImmediately``): "Secrets Manager tests the rotation
configuration by running the testSecret step of the Lambda rotation function. The test creates an
AWSPENDING version of the secret and then removes it." That version holds a copy of AWSCURRENT.
moto's ``rotate_secret(..., RotateImmediately=False)`` stages the copy (and never invokes the
function); the driver invokes testSecret alone and removes AWSPENDING, as the service does.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from app import lambda_handler
from bluegreen_ops.devstack.secrets_manager_driver import PLACEHOLDER_LAMBDA_ARN, STEPS, RotationDriver
from tests.engine_stacks import BOTH_ENGINES
from tests.helpers import can_login, grants, parameters, secret_value, snapshot, stages

pytestmark = BOTH_ENGINES


def _rotate(stack: Any) -> str:
    return RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1).rotate(stack.app.secret_arn)


def _state(stack: Any) -> dict[str, Any]:
    """What the configuration test must not change: accounts (password hashes), grants, the mirror
    (values and versions) and which version holds AWSCURRENT / AWSPREVIOUS."""
    accounts = stack.probe.accounts((stack.app.username, f"{stack.app.username}_green"))
    staged = {
        stage: [vid for vid, s in stages(stack).items() if stage in s]
        for stage in ("AWSCURRENT", "AWSPREVIOUS")
    }
    return {
        "accounts": accounts,
        "grants": {row[0]: grants(stack, row[0]) for row in accounts},
        "parameters": parameters(stack),
        "stages": staged,
    }


def _configuration_test(stack: Any) -> tuple[str, list[dict[str, Any]]]:
    """Runs the configuration test; returns the tested token and what testSecret was handed."""
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> Any:
        pending = secret_value(stack, "AWSPENDING", event["ClientRequestToken"])
        seen.append({"event": dict(event), "pending": pending, "current": secret_value(stack)})
        return lambda_handler(event, context)

    driver = RotationDriver(stack.secretsmanager, handler, max_attempts=1)
    token = driver.test_configuration(stack.app.secret_arn)
    assert [(r.step, r.error) for r in driver.history] == [("testSecret", None)]
    return token, seen


def _assert_configuration_test_changes_nothing(stack: Any) -> None:
    before = _state(stack)
    current = secret_value(stack)
    token, seen = _configuration_test(stack)
    (call,) = seen
    assert call["event"]["Step"] == "testSecret"
    assert call["pending"] == call["current"] == current  # a copy of AWSCURRENT ...
    assert token not in before["stages"]["AWSCURRENT"]  # ... on a new version
    assert _state(stack) == before
    assert all("AWSPENDING" not in s for s in stages(stack).values())  # removed, as the service does
    assert can_login(stack, current["username"], current["password"])


def test_configuration_test_before_and_after_the_first_rotation_changes_nothing(stack, caplog):
    # A freshly adopted secret: only the blue user exists, nothing in Parameter Store yet.
    assert parameters(stack) == {}
    _assert_configuration_test_changes_nothing(stack)
    assert "configuration test" in caplog.text

    _rotate(stack)
    _assert_configuration_test_changes_nothing(stack)
    previous = secret_value(stack, "AWSPREVIOUS")
    assert can_login(stack, previous["username"], previous["password"])

    _rotate(stack)  # rotations still work after configuration tests, and flip back
    _assert_configuration_test_changes_nothing(stack)
    assert secret_value(stack)["username"] == stack.app.username


def test_moto_stages_the_copy_before_a_rotation_and_a_stale_one_after(stack):
    """Pins the emulator behaviour the driver relies on and works around (see bluegreen_ops/devstack/secrets_manager_driver.py)."""

    def stage_copy() -> dict[str, Any]:
        # moto stages the version, then fails to find the (absent) function.
        with contextlib.suppress(stack.secretsmanager.exceptions.ResourceNotFoundException):
            stack.secretsmanager.rotate_secret(
                SecretId=stack.app.secret_arn,
                RotationLambdaARN=PLACEHOLDER_LAMBDA_ARN,
                RotationRules={"AutomaticallyAfterDays": 30},
                RotateImmediately=False,
            )
        (vid,) = [v for v, s in stages(stack).items() if "AWSPENDING" in s]
        copy = secret_value(stack, "AWSPENDING", vid)
        stack.secretsmanager.update_secret_version_stage(
            SecretId=stack.app.secret_arn, VersionStage="AWSPENDING", RemoveFromVersionId=vid
        )
        return copy

    assert stage_copy() == secret_value(stack)
    _rotate(stack)
    # moto copies the value the secret was created with: now AWSPREVIOUS's, not AWSCURRENT's.
    assert stage_copy() == secret_value(stack, "AWSPREVIOUS") != secret_value(stack)
    _, seen = _configuration_test(stack)
    assert seen[0]["pending"] == secret_value(stack)  # the driver staged a faithful copy instead


def test_other_steps_on_a_configuration_copy_change_nothing(stack):
    """The service runs only testSecret on the copy; the other steps, if ever invoked, must not act."""
    _rotate(stack)
    stack.secretsmanager.put_secret_value(
        SecretId=stack.app.secret_arn,
        ClientRequestToken="11111111-2222-4333-8444-555555555555",
        SecretString=json.dumps(secret_value(stack)),
        VersionStages=["AWSPENDING"],
    )
    token = "11111111-2222-4333-8444-555555555555"
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    before = snapshot(stack)
    for step in STEPS:
        try:
            driver.run_steps(stack.app.secret_arn, token, steps=(step,))
        except Exception as exc:
            assert step in ("setSecret", "finishSecret"), (step, exc)
            assert "refusing" in str(exc)
        else:
            assert step in ("createSecret", "testSecret"), step
        assert snapshot(stack) == before, f"{step} changed something"
