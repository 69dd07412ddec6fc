"""The rotation protocol end to end against moto's server and each engine's real server (MariaDB,
PostgreSQL 15): the same bodies, the database side checked by the stack's probe."""

from __future__ import annotations

import string
import uuid
from urllib.parse import unquote, urlsplit

import pytest
from sqlalchemy.engine import make_url

from app import lambda_handler
from bluegreen_ops.devstack.secrets_manager_driver import STEPS, RotationDriver
from tests.engine_stacks import BOTH_ENGINES
from tests.helpers import (
    assert_color_urls_log_in,
    can_login,
    flag,
    grants,
    parameters,
    secret_value,
    snapshot,
    stages,
    url_logs_in_as,
)

pytestmark = BOTH_ENGINES


def rotate(stack, **kwargs):
    return RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1, **kwargs).rotate(
        stack.app.secret_arn
    )


def test_first_rotation_adopts_the_user_and_creates_its_partner_with_identical_privileges(stack):
    blue = stack.app.username
    rotate(stack)
    current = secret_value(stack)
    assert current["username"] == f"{blue}_green"
    assert (current["blueUsername"], current["greenUsername"]) == (blue, f"{blue}_green")
    assert grants(stack, f"{blue}_green") == grants(stack, blue)
    stack.probe.assert_same_scope(blue, f"{blue}_green")
    params = parameters(stack)
    assert params[f"{stack.prefix}/blue-green-env"][:2] == ("green", "String")
    for color, user in (("blue", blue), ("green", f"{blue}_green")):
        for role in ("writer", "reader"):
            value, kind, _ = params[f"{stack.prefix}/{color}/{role}-db-url"]
            assert kind == "SecureString"
            assert url_logs_in_as(stack, value, user)


def test_three_rotations_alternate_and_keep_the_previous_user_working(stack):
    history = [secret_value(stack)]
    colors = []
    for _ in range(3):
        token = rotate(stack)
        current, previous = secret_value(stack), secret_value(stack, "AWSPREVIOUS")
        assert stages(stack)[token] == ["AWSCURRENT"]  # the driver clears AWSPENDING as the service does
        assert current["username"] != previous["username"]
        assert can_login(stack, current["username"], current["password"])
        assert can_login(stack, previous["username"], previous["password"])
        if len(history) >= 2:
            before_that = history[-2]
            assert before_that["username"] == current["username"]
            assert not can_login(stack, before_that["username"], before_that["password"])
        colors.append(flag(stack))
        history.append(current)
        assert_color_urls_log_in(stack, current, previous)
    assert colors == ["green", "blue", "green"]


def test_every_step_run_twice_gives_the_same_state(stack):
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(stack.app.secret_arn)
    for step in STEPS:
        driver.run_steps(stack.app.secret_arn, token, steps=(step,))
        after_once = snapshot(stack)
        driver.run_steps(stack.app.secret_arn, token, steps=(step,))
        assert snapshot(stack) == after_once, f"{step} is not idempotent"
    driver.finish(stack.app.secret_arn, token)
    assert secret_value(stack)["username"].endswith("_green")


def test_whole_rotation_retried_with_the_same_token_converges(stack):
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(stack.app.secret_arn)
    driver.run_steps(stack.app.secret_arn, token)
    done = snapshot(stack)
    driver.run_steps(stack.app.secret_arn, token)  # the service retries after a lost response
    assert snapshot(stack) == done


@pytest.mark.parametrize("stop_after", [1, 2, 3])
def test_finish_interrupted_after_each_write_converges(stack, stop_after, monkeypatch):
    """finishSecret writes writer URL, reader URL, flag, then moves AWSCURRENT: crash after each."""
    from bluegreen_rotation import mirror as mirror_module

    reference = make_reference(stack)
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(stack.app.secret_arn)
    driver.run_steps(stack.app.secret_arn, token, steps=STEPS[:3])
    writes = {"n": 0}
    real_url, real_flag = mirror_module.Mirror.write_url, mirror_module.Mirror.write_flag

    def crash_after(real):
        def wrapper(self, *args):
            real(self, *args)
            writes["n"] += 1
            if writes["n"] == stop_after:
                raise RuntimeError("simulated crash after a Parameter Store write")

        return wrapper

    monkeypatch.setattr(mirror_module.Mirror, "write_url", crash_after(real_url))
    monkeypatch.setattr(mirror_module.Mirror, "write_flag", crash_after(real_flag))
    with pytest.raises(RuntimeError, match="simulated crash"):
        driver.run_steps(stack.app.secret_arn, token, steps=("finishSecret",))
    monkeypatch.setattr(mirror_module.Mirror, "write_url", real_url)
    monkeypatch.setattr(mirror_module.Mirror, "write_flag", real_flag)
    driver.run_steps(stack.app.secret_arn, token)  # whole-rotation retry
    driver.finish(stack.app.secret_arn, token)
    assert converged_state(stack) == reference


def make_reference(stack):
    """The converged shape of one uninterrupted first rotation (users per stage, flag)."""
    return {"current": f"{stack.app.username}_green", "previous": stack.app.username, "flag": "green"}


def converged_state(stack):
    current, previous = secret_value(stack), secret_value(stack, "AWSPREVIOUS")
    assert can_login(stack, current["username"], current["password"])
    assert can_login(stack, previous["username"], previous["password"])
    assert_color_urls_log_in(stack, current, previous)
    return {"current": current["username"], "previous": previous["username"], "flag": flag(stack)}


def test_any_printable_64_character_password_round_trips(make_stack, monkeypatch):
    stack = make_stack()
    monkeypatch.setenv("EXCLUDE_CHARACTERS", "")
    monkeypatch.setenv("PASSWORD_LENGTH", "64")
    hostile = string.punctuation + " "
    seen = set()
    for _ in range(3):
        rotate(stack)
        current = secret_value(stack)
        password = current["password"]
        assert len(password) == 64
        seen.update(set(password) & set(hostile))
        color = "blue" if current["username"] == current["blueUsername"] else "green"
        url = parameters(stack)[f"{stack.prefix}/{color}/writer-db-url"][0]
        parts = urlsplit(url)
        assert unquote(parts.username) == current["username"]
        assert unquote(parts.password) == password
        sa = make_url(url)
        assert (sa.username, sa.password, sa.host, sa.port) == (
            current["username"],
            password,
            "127.0.0.1",
            stack.db.port,
        )
        assert url_logs_in_as(stack, url, current["username"])
    assert seen, "GetRandomPassword with nothing excluded should produce punctuation"


def test_a_fixed_hostile_password_round_trips(stack):
    """Every printable ASCII character, including the URL delimiters, in one password."""
    password = "".join(chr(c) for c in range(33, 127))[:64]
    stack.probe.set_password(stack.app.username, password)
    import json

    value = secret_value(stack)
    value["password"] = password
    stack.secretsmanager.put_secret_value(SecretId=stack.app.secret_arn, SecretString=json.dumps(value))
    rotate(stack)
    url = parameters(stack)[f"{stack.prefix}/blue/writer-db-url"][0]
    assert make_url(url).password == password
    assert unquote(urlsplit(url).password) == password
    assert url_logs_in_as(stack, url, stack.app.username)


def test_rotation_token_is_passed_to_put_secret_value(stack):
    """Secrets Manager may send a RotationToken; createSecret hands it to PutSecretValue."""
    from bluegreen_ops.devstack.secrets_manager_driver import FakeLambdaContext
    from bluegreen_rotation.aws import secretsmanager_client

    seen = []
    rotation_token = str(uuid.uuid4())

    def capture(params, **_):
        seen.append(params.get("RotationToken"))

    client = secretsmanager_client()
    client.meta.events.register("provide-client-params.secrets-manager.PutSecretValue", capture)
    try:
        driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
        token = driver.start(stack.app.secret_arn)
        event = {
            "Step": "createSecret",
            "SecretId": stack.app.secret_arn,
            "ClientRequestToken": token,
            "RotationToken": rotation_token,
        }
        lambda_handler(event, FakeLambdaContext())
    finally:
        client.meta.events.unregister("provide-client-params.secrets-manager.PutSecretValue", capture)
    assert seen == [rotation_token]
    assert "AWSPENDING" in stages(stack)[token]
