"""Time budget and hostile environments: a database that accepts but never answers, a Lambda about
to time out, a master user without privileges. Each fails fast with a clear error, changing nothing."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from app import lambda_handler
from bluegreen_ops.devstack.secrets_manager_driver import STEPS, RotationDriver
from bluegreen_rotation.errors import DatabaseError, TimeBudgetError
from tests.helpers import secret_value, snapshot


@pytest.fixture
def black_hole():
    """A TCP server that accepts connections and never sends a byte (a hung database)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_database_that_never_answers_fails_within_the_connect_timeout(stack, black_hole, monkeypatch):
    monkeypatch.setenv("DB_CONNECT_TIMEOUT", "1")
    value = secret_value(stack)
    value["port"] = black_hole
    stack.secretsmanager.put_secret_value(SecretId=stack.app.secret_arn, SecretString=json.dumps(value))
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(stack.app.secret_arn)
    driver.run_steps(stack.app.secret_arn, token, steps=("createSecret",))
    started = time.monotonic()
    with pytest.raises(DatabaseError, match=f"cannot connect to 127.0.0.1:{black_hole}.*timed out"):
        driver.run_steps(stack.app.secret_arn, token, steps=("setSecret",))
    assert time.monotonic() - started < 4, "the connect timeout did not hold"


def test_a_step_with_too_little_lambda_time_left_stops_before_the_database(stack):
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1, timeout_seconds=2)
    token = driver.start(stack.app.secret_arn)
    driver.run_steps(stack.app.secret_arn, token, steps=("createSecret",))
    before = snapshot(stack)
    with pytest.raises(TimeBudgetError, match=r"ms left, 15000 ms needed to log in as the pending user"):
        driver.run_steps(stack.app.secret_arn, token, steps=("setSecret",))
    assert snapshot(stack) == before
    RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1).run_steps(
        stack.app.secret_arn, token, steps=STEPS[1:]
    )


def test_a_master_user_without_privileges_is_a_clear_error_and_changes_nothing(stack):
    RotationDriver(stack.secretsmanager, lambda_handler).rotate(stack.app.secret_arn)
    stack.db.execute("CREATE USER 'weak_admin'@'%' IDENTIFIED BY 'weak-admin-Passw0rd'")
    stack.secretsmanager.put_secret_value(
        SecretId=stack.app.master_arn,
        SecretString=json.dumps({"username": "weak_admin", "password": "weak-admin-Passw0rd"}),
    )
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(stack.app.secret_arn)
    driver.run_steps(stack.app.secret_arn, token, steps=("createSecret",))
    before = snapshot(stack)
    with pytest.raises(
        DatabaseError, match=r"\(1142\) SELECT command denied|\(1227\) Access denied|\(1044\)"
    ):
        driver.run_steps(stack.app.secret_arn, token, steps=("setSecret",))
    assert snapshot(stack) == before
