"""An RDS-managed master secret (``ManageMasterUserPassword``), against MariaDB and moto's server.

RDS keeps such a secret holding only ``username`` and ``password`` (host and port come from the
rotated secret) and rotates it on its own schedule, possibly in the middle of one of our rotations:
these tests play RDS by changing the master password in the database and in the master secret.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from app import lambda_handler
from bluegreen_ops.devstack.secrets_manager_driver import STEPS, RotationDriver
from bluegreen_rotation import aws
from bluegreen_rotation.engines.base import LoginDenied
from tests.helpers import can_login, secret_value


@pytest.fixture
def managed(make_stack: Any) -> Iterator[Any]:
    """A stack whose master secret is RDS-shaped: its own master user, only username/password."""
    stack = make_stack()
    user = f"master{stack.n}"
    stack.db.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, "master-initial-Passw0rd"))
    stack.db.execute(f"GRANT ALL PRIVILEGES ON *.* TO `{user}`@'%' WITH GRANT OPTION")
    stack.master_user = user
    _rds_rotates_master(stack, "master-initial-Passw0rd")
    yield stack
    stack.db.execute("DROP USER IF EXISTS %s@'%%'", (user,))


def _rds_rotates_master(stack: Any, password: str) -> None:
    """What RDS does when it rotates a managed master secret: the database, then the secret."""
    stack.db.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (stack.master_user, password))
    stack.secretsmanager.put_secret_value(
        SecretId=stack.app.master_arn,
        SecretString=json.dumps({"username": stack.master_user, "password": password}),
    )


def test_a_master_secret_rotated_between_create_and_set_secret(managed: Any) -> None:
    driver = RotationDriver(managed.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(managed.app.secret_arn)
    driver.run_steps(managed.app.secret_arn, token, steps=STEPS[:1])
    _rds_rotates_master(managed, "master-rotated-by-RDS-1")
    driver.run_steps(managed.app.secret_arn, token, steps=STEPS[1:])
    driver.finish(managed.app.secret_arn, token)
    current = secret_value(managed)
    assert current["username"] == f"{managed.app.username}_green"
    assert can_login(managed, current["username"], current["password"])


class RotateMasterAfterRead:
    """Plays RDS rotating the master password right after setSecret has read the master secret, so
    the function's first master login uses a password the database no longer accepts."""

    def __init__(self, stack: Any, password: str) -> None:
        self.stack, self.password, self.fired = stack, password, False

    def __call__(self, parsed: dict[str, Any], **_: Any) -> None:
        if not self.fired and parsed.get("ARN") == self.stack.app.master_arn and self.step == "setSecret":
            self.fired = True
            _rds_rotates_master(self.stack, self.password)

    step: str | None = None


def test_a_refused_master_login_rereads_the_master_secret_once(
    managed: Any, caplog: pytest.LogCaptureFixture
) -> None:
    rds = RotateMasterAfterRead(managed, "master-rotated-by-RDS-2")

    def handler(event: dict[str, Any], context: Any) -> Any:
        rds.step = event["Step"]
        return lambda_handler(event, context)

    client = aws.secretsmanager_client()
    client.meta.events.register("after-call.secretsmanager.GetSecretValue", rds, unique_id="rds-rotates")
    try:
        driver = RotationDriver(managed.secretsmanager, handler, max_attempts=1)
        driver.rotate(managed.app.secret_arn)
    finally:
        client.meta.events.unregister("after-call.secretsmanager.GetSecretValue", unique_id="rds-rotates")
    assert rds.fired
    assert any("the master password changed while this step ran" in m for m in caplog.messages)
    current = secret_value(managed)
    assert can_login(managed, current["username"], current["password"])


def test_a_master_password_refused_after_the_reread_fails_the_step(managed: Any) -> None:
    """The re-read is once: a master secret that no longer matches the database fails setSecret."""
    managed.db.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (managed.master_user, "not-in-the-secret-0"))
    driver = RotationDriver(managed.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(managed.app.secret_arn)
    driver.run_steps(managed.app.secret_arn, token, steps=STEPS[:1])
    with pytest.raises(LoginDenied):
        driver.run_steps(managed.app.secret_arn, token, steps=("setSecret",))
    pending = secret_value(managed, "AWSPENDING", token)
    assert not can_login(managed, pending["username"], pending["password"])
