"""The files in events/ are the ones users feed to ``sam local invoke``: run them all, in order,
through the handler against the local stack, so they can never go stale."""

from __future__ import annotations

import json
from pathlib import Path

from app import lambda_handler
from bluegreen_ops.devstack.secrets_manager_driver import STEPS, FakeLambdaContext, RotationDriver
from tests.helpers import flag, secret_value, stages

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_every_event_file_runs_a_whole_rotation(stack, monkeypatch):
    env = json.loads((EVENTS / "env.json").read_text())["RotationFunction"]
    local = {"AWS_ENDPOINT_URL", "PARAMETER_PREFIX", "DB_TLS_MODE", "ROTATION_GRACE_SECONDS"}
    for name, value in env.items():
        if name not in local:  # the stack fixture points these at the local stack
            monkeypatch.setenv(name, value)
    events = [json.loads((EVENTS / f"{step}.json").read_text()) for step in STEPS]
    assert {e["Step"] for e in events} == set(STEPS)
    assert all(set(e) == {"Step", "SecretId", "ClientRequestToken"} for e in events)
    token = events[0]["ClientRequestToken"]
    assert all(e["ClientRequestToken"] == token for e in events)
    RotationDriver(stack.secretsmanager, lambda_handler).start(stack.app.secret_arn, token)
    for event in events:
        lambda_handler({**event, "SecretId": stack.app.secret_arn}, FakeLambdaContext())
    assert "AWSCURRENT" in stages(stack)[token]
    assert secret_value(stack)["username"] == f"{stack.app.username}_green"
    assert flag(stack) == "green"
