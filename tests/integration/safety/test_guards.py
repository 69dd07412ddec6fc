"""Contract guarantee 3: never change the password of a user in use. Each guard refuses, changes
nothing and says why; once its condition clears, the same rotation goes through."""

from __future__ import annotations

import time

import pytest

from app import lambda_handler
from bluegreen_ops.devstack.secrets_manager_driver import STEPS, RotationDriver, RotationInProgressError
from bluegreen_rotation.errors import RotationRefusedError
from tests.engine_stacks import BOTH_ENGINES
from tests.helpers import can_login, flag, secret_value, snapshot

pytestmark = BOTH_ENGINES


def driver(stack):
    return RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)


def _wait_until_gone(stack, user):
    """A closed session leaves the server's process list a moment later (the server ends its thread
    or backend after the client's quit): proceed once the list the guard reads no longer shows it."""
    for _ in range(400):
        if not stack.probe.session_count(user):
            return
        time.sleep(0.025)  # polling the condition, not ordering by time
    pytest.fail(f"{user}'s closed session still shows in the process list")


def start_to_set(stack):
    """A new rotation up to (not including) setSecret; returns (driver, token)."""
    d = driver(stack)
    token = d.start(stack.app.secret_arn)
    d.run_steps(stack.app.secret_arn, token, steps=("createSecret",))
    return d, token


def test_grace_period_refuses_then_allows(make_stack, monkeypatch):
    stack = make_stack(grace=2)
    driver(stack).rotate(stack.app.secret_arn)  # blue -> green: blue leaves the flag now
    d, token = start_to_set(stack)
    before = snapshot(stack)
    with pytest.raises(
        RotationRefusedError, match=r"the flag left blue \d+s ago, less than ROTATION_GRACE_SECONDS=2"
    ):
        d.run_steps(stack.app.secret_arn, token, steps=("setSecret",))
    assert snapshot(stack) == before
    time.sleep(2.1)
    d.run_steps(stack.app.secret_arn, token, steps=STEPS[1:])
    d.finish(stack.app.secret_arn, token)
    assert flag(stack) == "blue"


def test_live_sessions_refuse_under_fail_then_allow_when_drained(stack):
    driver(stack).rotate(stack.app.secret_arn)  # green is live; next rotation changes blue
    blue = secret_value(stack, "AWSPREVIOUS")
    session = stack.probe.session(blue["username"], blue["password"])
    d, token = start_to_set(stack)
    before = snapshot(stack)
    with pytest.raises(RotationRefusedError, match=r"has 1 live session\(s\) \(ACTIVE_SESSION_POLICY=fail\)"):
        d.run_steps(stack.app.secret_arn, token, steps=("setSecret",))
    assert snapshot(stack) == before
    session.close()
    _wait_until_gone(stack, blue["username"])
    d.run_steps(stack.app.secret_arn, token, steps=STEPS[1:])
    assert secret_value(stack)["username"] == blue["username"]


def test_live_sessions_only_warn_under_warn(stack, monkeypatch, capsys, caplog):
    monkeypatch.setenv("ACTIVE_SESSION_POLICY", "warn")
    driver(stack).rotate(stack.app.secret_arn)
    blue = secret_value(stack, "AWSPREVIOUS")
    session = stack.probe.session(blue["username"], blue["password"])
    try:
        driver(stack).rotate(stack.app.secret_arn)
    finally:
        session.close()
    assert "ACTIVE_SESSION_POLICY=warn" in caplog.text
    assert '"ActiveSessionsWarning"' in capsys.readouterr().out  # the EMF metric
    assert flag(stack) == "blue"


def test_a_concurrent_set_secret_is_refused_by_the_database_lock(stack):
    driver(stack).rotate(stack.app.secret_arn)  # the mirror is complete; the next setSecret writes nothing
    d, token = start_to_set(stack)
    with stack.probe.rotation_lock_held(stack.app.secret_arn, stack.app.dbname):
        before = snapshot(stack)
        with pytest.raises(RotationRefusedError, match="another setSecret for this secret is running"):
            d.run_steps(stack.app.secret_arn, token, steps=("setSecret",))
        assert snapshot(stack) == before
    d.run_steps(stack.app.secret_arn, token, steps=STEPS[1:])
    assert flag(stack) == "blue"


def test_the_second_of_two_concurrent_rotations_is_refused(stack):
    first, token = start_to_set(stack)
    with pytest.raises(RotationInProgressError, match=f"rotation {token} .* has not finished"):
        driver(stack).start(stack.app.secret_arn)
    # The first one is unharmed and completes.
    first.run_steps(stack.app.secret_arn, token, steps=STEPS[1:])
    first.finish(stack.app.secret_arn, token)
    assert flag(stack) == "green"


def test_reconciliation_after_a_half_finished_finish(make_stack):
    """finishSecret flipped the flag, then died before moving AWSCURRENT, and the service gave up.

    The next rotation moves the flag back to AWSCURRENT's color (whose password still works), then
    refuses to touch the color that just left the flag until the grace period has passed.
    """
    stack = make_stack(grace=2)
    d = driver(stack)
    token = d.start(stack.app.secret_arn)
    d.run_steps(stack.app.secret_arn, token, steps=STEPS[:3])
    # Half of finishSecret: URLs and flag written, AWSCURRENT not moved.
    from bluegreen_db.naming import ParameterNames
    from bluegreen_rotation.mirror import Mirror
    from bluegreen_rotation.secret import DbSecret

    pending = DbSecret.parse(
        stack.secretsmanager.get_secret_value(
            SecretId=stack.app.secret_arn, VersionId=token, VersionStage="AWSPENDING"
        )["SecretString"]
    )
    mirror = Mirror(stack.ssm, ParameterNames(stack.prefix))
    for role in ("writer", "reader"):
        mirror.write_url("green", role, pending.url(role, stack.probe.url_scheme))
    mirror.write_flag("green")
    # The service gives up; an operator abandons the stuck version.
    stack.secretsmanager.update_secret_version_stage(
        SecretId=stack.app.secret_arn, VersionStage="AWSPENDING", RemoveFromVersionId=token
    )
    assert flag(stack) == "green" and secret_value(stack)["username"] == stack.app.username
    green_before = pending.password
    d2, token2 = start_to_set(stack)
    with pytest.raises(RotationRefusedError, match=r"the flag left green"):
        d2.run_steps(stack.app.secret_arn, token2, steps=("setSecret",))
    assert flag(stack) == "blue", "reconciliation moves the flag back to AWSCURRENT's color"
    assert can_login(stack, pending.username, green_before), "green's password was not touched"
    time.sleep(2.1)
    d2.run_steps(stack.app.secret_arn, token2, steps=STEPS[1:])
    d2.finish(stack.app.secret_arn, token2)
    assert flag(stack) == "green"
    assert secret_value(stack)["username"] == pending.username
