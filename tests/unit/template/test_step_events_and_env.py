"""The events/ files that the local stack tests and `sam local invoke` feed to the handler: the four step
events and env.json, checked against the template."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.unit.template.helpers import CONTRACT_ENV_VARS, EVENTS, STEPS, _props


def test_step_events_have_the_service_shape() -> None:
    events = {step: json.loads((EVENTS / f"{step}.json").read_text()) for step in STEPS}
    tokens = {e["ClientRequestToken"] for e in events.values()}
    assert len(tokens) == 1, "all four steps must carry the same ClientRequestToken"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", tokens.pop())
    for step, event in events.items():
        assert set(event) == {"Step", "SecretId", "ClientRequestToken"}, step
        assert event["Step"] == step
        assert re.fullmatch(
            r"arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}", event["SecretId"]
        )


def test_env_file_matches_the_template(resources: dict[str, Any]) -> None:
    env = json.loads((EVENTS / "env.json").read_text())
    assert set(env) == {"RotationFunction", "ConsumerFunction"}
    for function, values in env.items():
        declared = set(_props(resources, function)["Environment"]["Variables"])
        assert set(values) == declared, (
            f"{function}: env.json {sorted(values)} != template {sorted(declared)}"
        )
        assert all(isinstance(v, str) for v in values.values()), function
    assert set(CONTRACT_ENV_VARS) <= set(env["RotationFunction"])
    # Empty endpoint = the real AWS endpoints (botocore ignores an empty AWS_ENDPOINT_URL).
    assert env["RotationFunction"]["AWS_ENDPOINT_URL"] == ""
