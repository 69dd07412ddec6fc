"""Rotation failures: the EventBridge rule that sends RotationFailed to the SNS topic, and the errors alarm."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.template.cfn_render import Rendered
from tests.unit.template.helpers import (
    ACCOUNT_REGION,
    ANY_SECRET,
    FLEET_PATTERNS,
    MASTER,
    REQUIRED,
    SECRET,
    STEPS,
    _props,
)


def _failure_pattern(stack: Rendered) -> dict[str, Any]:
    rule = stack.resources["RotationFailureRule"]
    assert rule["Type"] == "AWS::Events::Rule"
    pattern: dict[str, Any] = json.loads(rule["Properties"]["EventPattern"])
    return pattern


def test_rotation_failures_reach_the_topic_naming_the_secret(template: dict[str, Any]) -> None:
    topic = f"arn:aws:sns:{ACCOUNT_REGION}:rotation-failures"
    base = {**REQUIRED, "RotationFailureTopicArn": topic}
    stack = Rendered(template, {**base, "SecretArn": SECRET, "MasterSecretArn": MASTER})
    pattern = _failure_pattern(stack)
    # "AWS CloudTrail entries for Secrets Manager" (Log entries for rotation) and "Match AWS Secrets
    # Manager events with Amazon EventBridge": a CloudTrail service event of aws.secretsmanager.
    assert pattern["source"] == ["aws.secretsmanager"]
    assert pattern["detail-type"] == ["AWS Service Event via CloudTrail"]
    assert pattern["detail"]["eventSource"] == ["secretsmanager.amazonaws.com"]
    assert pattern["detail"]["eventName"] == ["RotationFailed"]
    assert pattern["detail"]["additionalEventData"]["SecretId"] == [{"wildcard": SECRET}]
    (target,) = stack.resources["RotationFailureRule"]["Properties"]["Targets"]
    assert target["Arn"] == topic
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"]["secret"] == "$.detail.additionalEventData.SecretId"
    assert "<secret>" in transformer["InputTemplate"]
    assert json.loads(transformer["InputTemplate"].replace("<secret>", "x"))  # SNS gets one JSON string
    assert stack.outputs["RotationFailureRuleArn"]["Value"] == "<RotationFailureRule.Arn>"

    listed = Rendered(
        template, {**base, "SecretArn": SECRET, "MasterSecretArn": MASTER, "FleetSecretArns": FLEET_PATTERNS}
    )
    assert _failure_pattern(listed)["detail"]["additionalEventData"]["SecretId"] == [
        {"wildcard": arn} for arn in [SECRET, *FLEET_PATTERNS.split(",")]
    ]
    only_listed = Rendered(template, {**base, "FleetSecretArns": FLEET_PATTERNS})
    assert _failure_pattern(only_listed)["detail"]["additionalEventData"]["SecretId"] == [
        {"wildcard": arn} for arn in FLEET_PATTERNS.split(",")
    ]
    # A tag is not in the event: a tagged fleet hears every secret of the account and region.
    tagged = Rendered(template, {**base, "FleetByTag": "true", "FleetSecretArns": FLEET_PATTERNS})
    assert _failure_pattern(tagged)["detail"]["additionalEventData"]["SecretId"] == [{"wildcard": ANY_SECRET}]


def test_no_topic_no_rule(rendered: dict[str, Rendered]) -> None:
    for scenario in ("one secret", "fleet by tag", "fleet by ARN patterns"):
        stack = rendered[scenario]
        assert "RotationFailureRule" not in stack.resources, scenario
        assert "RotationFailureRuleArn" not in stack.outputs, scenario
        assert "RotationErrorsAlarm" in stack.resources, scenario  # the alarm stays, topic or not
    assert "RotationFailureRule" in rendered["everything"].resources


def test_alarm_counts_the_functions_metrics_in_the_deployers_namespace(resources: dict[str, Any]) -> None:
    props = _props(resources, "RotationErrorsAlarm")
    stats = [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]
    assert len(props["Metrics"]) <= 10  # CloudWatch's limit for an alarm's metric math
    custom = [m for m in stats if m["Namespace"] == {"Ref": "PowertoolsMetricsNamespace"}]
    # Powertools publishes {service, Step}: the alarm must name both (as the EMF test sees them).
    seen = set()
    for metric in custom:
        dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        assert dims["service"] == {"Ref": "PowertoolsServiceName"}
        seen.add((metric["MetricName"], dims["Step"]))
    assert seen == {(m, s) for m in ("StepFailed", "StepRefused") for s in STEPS}
    assert any(m["Namespace"] == "AWS/Lambda" and m["MetricName"] == "Errors" for m in stats)
    (expression,) = [m for m in props["Metrics"] if m.get("ReturnData", True)]
    assert expression["Expression"] == "SUM(METRICS())"
