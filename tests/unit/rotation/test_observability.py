"""The deployer's POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE decide where metrics go.

Each case runs the function's handler in a fresh interpreter (the names are read at import, as in a
Lambda cold start) and parses every EMF document it prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]

# Two invocations: an event Secrets Manager would never send (rejected before any AWS call) and a
# step whose DescribeSecret is refused (a plain fake store), so both metric paths are covered.
SCRIPT = """
import json
from bluegreen_rotation.errors import InvalidInputError
from bluegreen_rotation.observability import metrics
from bluegreen_rotation.rotation import run_step
import app

class Context:
    function_name = "f"; memory_limit_in_mb = 128; aws_request_id = "r"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    def get_remaining_time_in_millis(self): return 60000

class RefusingStore:
    def describe(self, arn): raise InvalidInputError("no such secret")

for call in (
    lambda: app.lambda_handler({"Step": "nope"}, Context()),
    lambda: run_step({"Step": "testSecret", "SecretId": "arn:x", "ClientRequestToken": "t"},
                     store=RefusingStore(), ssm=None),
):
    try:
        call()
    except Exception:
        pass
    metrics.flush_metrics()
"""


def _emitted(env_overrides: dict[str, str]) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("rotation_lambda", "layer/python")),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "AWS_DEFAULT_REGION": "us-east-1",
            **env_overrides,
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    docs = []
    for line in done.stdout.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and "_aws" in doc:
            docs.append(doc)
    return docs


@pytest.mark.parametrize(
    ("env", "namespace", "service"),
    [
        ({"POWERTOOLS_METRICS_NAMESPACE": "X", "POWERTOOLS_SERVICE_NAME": "Y"}, "X", "Y"),
        ({}, "BlueGreenRotation", "bluegreen-rotation"),  # the defaults when the variables are unset
    ],
)
def test_every_metric_is_in_the_deployers_namespace_and_service(env, namespace, service):
    docs = _emitted(env)
    names = set()
    for doc in docs:
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == namespace, doc
            assert all("service" in dims for dims in directive["Dimensions"]), doc
            names |= {m["Name"] for m in directive["Metrics"]}
        assert doc["service"] == service, doc
    assert {"StepFailed", "StepDuration"} <= names, names
