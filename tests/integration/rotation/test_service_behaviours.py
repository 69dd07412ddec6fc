"""Secrets Manager behaviours the function relies on, and where moto differs (docs/conformance.md).

Each AWS behaviour is played the way the service documents it; each moto divergence is pinned, so a
moto upgrade that fixes one shows up here instead of silently changing what the driver works around.
"""

from __future__ import annotations

import pytest

from app import lambda_handler
from bluegreen_ops.devstack.secrets_manager_driver import PLACEHOLDER_LAMBDA_ARN, STEPS, RotationDriver
from tests.helpers import can_login, parameters, secret_value, snapshot, stages, url_logs_in_as


def _driver(stack):
    return RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)


def _move_pending_to(stack, version_id):
    stack.secretsmanager.update_secret_version_stage(
        SecretId=stack.app.secret_arn, VersionStage="AWSPENDING", MoveToVersionId=version_id
    )


def test_awspending_on_awscurrents_version_changes_nothing_and_finish_completes_the_mirror(stack):
    """RotateSecret API reference: after a successful rotation "the AWSPENDING staging label might be
    attached to the same version as the AWSCURRENT version". Steps for such a token do nothing;
    finishSecret only completes the mirror; the next rotation starts normally."""
    token = _driver(stack).rotate(stack.app.secret_arn)
    _move_pending_to(stack, token)
    assert stages(stack)[token] == ["AWSCURRENT", "AWSPENDING"]
    before = snapshot(stack)
    for step in ("createSecret", "setSecret", "testSecret"):
        _driver(stack).run_steps(stack.app.secret_arn, token, steps=(step,))
        assert snapshot(stack) == before, step

    writer = f"{stack.prefix}/green/writer-db-url"
    stack.ssm.delete_parameter(Name=writer)
    _driver(stack).run_steps(stack.app.secret_arn, token, steps=("finishSecret",))
    assert url_logs_in_as(stack, parameters(stack)[writer][0], secret_value(stack)["username"])

    _driver(stack).rotate(stack.app.secret_arn)  # a new rotation starts from this state
    assert secret_value(stack)["username"] == stack.app.username


def test_cancel_rotate_secret_mid_rotation_then_the_next_rotation_completes(stack):
    """CancelRotateSecret turns rotation off and may leave AWSPENDING on a partial version, which the
    operator removes. The cancelled token's steps are then refused and change nothing; the next
    rotation (RotateSecret turns rotation back on) completes and the old user keeps working."""
    original = secret_value(stack)
    driver = _driver(stack)
    token = driver.start(stack.app.secret_arn)
    driver.run_steps(stack.app.secret_arn, token, steps=("createSecret", "setSecret"))
    stack.secretsmanager.cancel_rotate_secret(SecretId=stack.app.secret_arn)
    stack.secretsmanager.update_secret_version_stage(
        SecretId=stack.app.secret_arn, VersionStage="AWSPENDING", RemoveFromVersionId=token
    )
    before = snapshot(stack)
    for step in STEPS:
        with pytest.raises(Exception, match="does not have rotation enabled"):
            driver.run_steps(stack.app.secret_arn, token, steps=(step,))
        assert snapshot(stack) == before, step

    new_token = _driver(stack).rotate(stack.app.secret_arn)
    assert new_token != token and stages(stack)[new_token] == ["AWSCURRENT"]
    current = secret_value(stack)
    assert current["username"] == f"{stack.app.username}_green"
    assert can_login(stack, current["username"], current["password"])
    assert can_login(stack, original["username"], original["password"])


# -- moto's divergences, pinned ---------------------------------------------------------------------


def test_moto_rotate_secret_never_runs_the_function(stack):
    with pytest.raises(stack.secretsmanager.exceptions.ResourceNotFoundException):
        stack.secretsmanager.rotate_secret(
            SecretId=stack.app.secret_arn,
            RotationLambdaARN=PLACEHOLDER_LAMBDA_ARN,
            RotationRules={"AutomaticallyAfterDays": 30},
        )
    (pending,) = [v for v, s in stages(stack).items() if "AWSPENDING" in s]
    with pytest.raises(stack.secretsmanager.exceptions.ResourceNotFoundException):
        secret_value(stack, "AWSPENDING", pending)  # a placeholder: no step ran, nothing was put


def test_moto_refuses_rotate_secret_while_awspending_shares_awscurrents_version(stack):
    """AWS allows it (that is the normal state after a rotation); moto's check is inverted."""
    (current,) = [v for v, s in stages(stack).items() if "AWSCURRENT" in s]
    _move_pending_to(stack, current)
    with pytest.raises(stack.secretsmanager.exceptions.InvalidRequestException, match="in progress"):
        stack.secretsmanager.rotate_secret(
            SecretId=stack.app.secret_arn, RotationLambdaARN=PLACEHOLDER_LAMBDA_ARN
        )
    _driver(stack).rotate(stack.app.secret_arn)  # the driver takes the label off first, as AWS's move would
    assert secret_value(stack)["username"] == f"{stack.app.username}_green"


def test_moto_get_secret_value_without_a_stage_is_stale_after_a_rotation(stack):
    original = secret_value(stack)
    _driver(stack).rotate(stack.app.secret_arn)
    unnamed = stack.secretsmanager.get_secret_value(SecretId=stack.app.secret_arn)["SecretString"]
    assert (
        unnamed
        == stack.secretsmanager.get_secret_value(SecretId=stack.app.secret_arn, VersionStage="AWSPREVIOUS")[
            "SecretString"
        ]
    )
    assert secret_value(stack) != original  # AWSCURRENT, read with its stage, is the new version


def test_moto_accepts_any_kms_key_id(stack):
    """AWS rejects a key that does not exist; IAM and KMS conditions are checked in the template tests."""
    created = stack.secretsmanager.create_secret(
        Name=f"app/t{stack.n}/kms",
        SecretString="{}",
        KmsKeyId="arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000",
    )
    assert created["ARN"]
