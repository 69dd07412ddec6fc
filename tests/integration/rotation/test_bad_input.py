"""Contract guarantee 4: bad input is rejected with an error naming the problem, and changes nothing
in the database, the secret or Parameter Store."""

from __future__ import annotations

import json
import uuid

import pytest

from app import lambda_handler
from bluegreen_ops.devstack.secrets_manager_driver import FakeLambdaContext, RotationDriver
from bluegreen_rotation.errors import InvalidInputError
from tests.engine_stacks import BOTH_ENGINES
from tests.helpers import secret_value, snapshot

pytestmark = BOTH_ENGINES


def put_current(stack, value):
    text = value if isinstance(value, str) else json.dumps(value)
    stack.secretsmanager.put_secret_value(SecretId=stack.app.secret_arn, SecretString=text)


def run_rotation_expecting(stack, match):
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(stack.app.secret_arn)
    before = snapshot(stack)
    with pytest.raises(InvalidInputError, match=match):
        driver.run_steps(stack.app.secret_arn, token)
    assert snapshot(stack) == before, "a rejected rotation changed something"


def _limit(stack):
    """The longest user name the stack's engine accepts."""
    return stack.probe.max_user_name


def mutate(stack, **changes):
    value = secret_value(stack)
    for key, new in changes.items():
        if new is None:
            value.pop(key, None)
        else:
            value[key] = new
    return value


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda s: "{not json", r"AWSCURRENT version is not valid JSON"),
        (lambda s: '["a list"]', r"must be a JSON object"),
        (lambda s: mutate(s, host=None), r"missing the required key 'host'"),
        (lambda s: mutate(s, username=None), r"missing the required key 'username'"),
        (lambda s: mutate(s, password=None), r"missing the required key 'password'"),
        (lambda s: mutate(s, masterarn=None), r"missing the required key 'masterarn'"),
        (lambda s: mutate(s, engine="oracle"), r"engine 'oracle' is not supported"),
        (lambda s: mutate(s, port="eighty"), r"'port' must be a port number"),
        (
            lambda s: mutate(s, masterarn="arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf"),
            r"master secret .* cannot be read: ResourceNotFoundException",
        ),
        (lambda s: mutate(s, masterarn="not-an-arn"), r"'masterarn' is not a Secrets Manager secret ARN"),
        # The engine's limit (MySQL 32 characters, PostgreSQL 63 bytes), exceeded by one.
        (
            lambda s: mutate(s, username="a" * (_limit(s) - 5)),
            lambda s: rf"'a{{{_limit(s) - 5}}}_green' \(greenUsername\) is {_limit(s) + 1} characters long",
        ),
        (
            lambda s: mutate(s, username="a" * (_limit(s) + 1)),
            lambda s: rf"is {_limit(s) + 1} characters long",
        ),
        (
            lambda s: mutate(s, greenUsername="x" * (_limit(s) + 1)),
            lambda s: rf"greenUsername\) is {_limit(s) + 1} characters long",
        ),
        (lambda s: mutate(s, username="app`; DROP USER root; --"), r"characters outside letters"),
        (lambda s: mutate(s, username="o'brien"), r"characters outside letters"),
        (lambda s: mutate(s, username="app%"), r"characters outside letters"),
        (lambda s: mutate(s, host="db.example.com'; --"), r"'host' is not a host name"),
        (lambda s: mutate(s, blueUsername="dup", greenUsername="dup"), r"same user for blue and green"),
        (lambda s: mutate(s, blueUsername="other", greenUsername="other_green"), r"neither its blueUsername"),
        (lambda s: mutate(s, parameterPrefix="no-leading-slash"), r"parameter prefix"),
    ],
    ids=[
        "malformed-json",
        "not-an-object",
        "missing-host",
        "missing-username",
        "missing-password",
        "missing-masterarn",
        "wrong-engine",
        "bad-port",
        "unreadable-master",
        "masterarn-not-arn",
        "green-name-too-long",
        "name-too-long",
        "explicit-green-too-long",
        "backtick-name",
        "quote-name",
        "wildcard-name",
        "quote-host",
        "same-pair",
        "username-not-in-pair",
        "bad-prefix",
    ],
)
def test_bad_secret_is_rejected_and_changes_nothing(stack, change, match):
    put_current(stack, change(stack))
    run_rotation_expecting(stack, match(stack) if callable(match) else match)


def test_master_secret_without_password_is_rejected(make_stack):
    stack = make_stack(master_extra={"password": ""})
    run_rotation_expecting(stack, r"master secret is missing the required key 'password'")


def test_master_secret_malformed_is_rejected(stack):
    stack.secretsmanager.put_secret_value(SecretId=stack.app.master_arn, SecretString="{{{")
    run_rotation_expecting(stack, r"master secret is not valid JSON")


def invoke(stack, step="createSecret", token=None, **extra):
    event = {"Step": step, "SecretId": stack.app.secret_arn, "ClientRequestToken": token or str(uuid.uuid4())}
    event.update(extra)
    return lambda_handler(event, FakeLambdaContext())


def test_rotation_disabled_is_rejected(stack):
    before = snapshot(stack)
    with pytest.raises(InvalidInputError, match="does not have rotation enabled"):
        invoke(stack)
    assert snapshot(stack) == before


def test_token_not_among_versions_is_rejected(stack):
    RotationDriver(stack.secretsmanager, lambda_handler).start(stack.app.secret_arn)
    before = snapshot(stack)
    with pytest.raises(InvalidInputError, match=r"token .* is not a version of secret"):
        invoke(stack)
    assert snapshot(stack) == before


def test_token_not_pending_is_rejected(stack):
    driver = RotationDriver(stack.secretsmanager, lambda_handler)
    token = driver.start(stack.app.secret_arn)
    stack.secretsmanager.update_secret_version_stage(
        SecretId=stack.app.secret_arn, VersionStage="AWSPENDING", RemoveFromVersionId=token
    )
    before = snapshot(stack)
    with pytest.raises(InvalidInputError, match="is not AWSPENDING"):
        invoke(stack, token=token)
    assert snapshot(stack) == before


@pytest.mark.parametrize(
    ("event", "match"),
    [
        ({"Step": "dropSecret"}, r"unknown step 'dropSecret'"),
        ({"Step": None}, r"unknown step None"),
        ({"SecretId": ""}, r"no SecretId"),
        ({"ClientRequestToken": None}, r"no ClientRequestToken"),
        ({"RotationToken": 42}, r"RotationToken must be a string"),
    ],
)
def test_malformed_events_are_rejected(stack, event, match):
    token = RotationDriver(stack.secretsmanager, lambda_handler).start(stack.app.secret_arn)
    full = {"Step": "createSecret", "SecretId": stack.app.secret_arn, "ClientRequestToken": token}
    full.update(event)
    before = snapshot(stack)
    with pytest.raises(InvalidInputError, match=match):
        lambda_handler(full, FakeLambdaContext())
    assert snapshot(stack) == before


def test_unknown_secret_is_rejected(stack):
    with pytest.raises(InvalidInputError, match="cannot be described: ResourceNotFoundException"):
        lambda_handler(
            {
                "Step": "createSecret",
                "SecretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf",
                "ClientRequestToken": str(uuid.uuid4()),
            },
            FakeLambdaContext(),
        )
