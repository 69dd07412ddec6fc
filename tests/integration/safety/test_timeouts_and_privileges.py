"""Time budget and hostile environments: a database that accepts but never answers, a Lambda about
to time out, a master user without privileges. Each fails fast with a clear error, changing nothing."""

from __future__ import annotations

import json
import re
import socket
import threading
from dataclasses import dataclass

import pytest

from app import lambda_handler
from bluegreen_ops.devstack.secrets_manager_driver import STEPS, RotationDriver
from bluegreen_rotation.errors import DatabaseError, TimeBudgetError
from tests.helpers import secret_value, snapshot


@dataclass
class BlackHole:
    """A hung database: accepts connections, never sends a byte and never closes one until released."""

    port: int
    accepted: threading.Event  # set once a connection is held
    held: list[socket.socket]

    def client_hung_up(self) -> bool:
        """Whether the peer of every held connection closed it: the server itself never did."""
        for conn in self.held:
            conn.settimeout(5)
            try:
                if conn.recv(1) != b"":
                    return False
            except TimeoutError:
                return False
        return bool(self.held)


@pytest.fixture
def black_hole():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    hole = BlackHole(server.getsockname()[1], threading.Event(), [])
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            hole.held.append(conn)
            hole.accepted.set()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield hole
    stop.set()
    thread.join()
    for conn in hole.held:
        conn.close()
    server.close()


def test_a_database_that_never_answers_fails_within_the_connect_timeout(stack, black_hole, monkeypatch):
    """The hung server holds the connection for as long as the test runs, so the only way setSecret can
    return is its own connect timeout: it gets its error while the server still holds the call."""
    monkeypatch.setenv("DB_CONNECT_TIMEOUT", "1")
    value = secret_value(stack)
    value["port"] = black_hole.port
    stack.secretsmanager.put_secret_value(SecretId=stack.app.secret_arn, SecretString=json.dumps(value))
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(stack.app.secret_arn)
    driver.run_steps(stack.app.secret_arn, token, steps=("createSecret",))
    outcome: list[BaseException] = []

    def set_secret() -> None:
        try:
            driver.run_steps(stack.app.secret_arn, token, steps=("setSecret",))
        except BaseException as exc:  # handed to the test's thread
            outcome.append(exc)

    caller = threading.Thread(target=set_secret, daemon=True)
    caller.start()
    assert black_hole.accepted.wait(60), "setSecret never reached the database"
    caller.join(timeout=120)  # a net against a hang, not a measure: the server never answers nor closes
    assert not caller.is_alive(), "setSecret still waits on a database that never answers"
    assert black_hole.client_hung_up(), "the client gave up on its own, while the server held the call"
    assert outcome and isinstance(outcome[0], DatabaseError), outcome
    assert re.search(f"cannot connect to 127.0.0.1:{black_hole.port}.*timed out", str(outcome[0]))


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
