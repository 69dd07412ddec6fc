"""Shared by the template tests: paths, the scenarios the template is rendered for, and helpers that
walk template.yaml as cfn-lint's loader reads it.

The template is read with cfn-lint's loader, which turns the short-form tags (``!Ref``, ``!Sub``, ``!If``...)
into their long ``{"Ref": ...}`` / ``{"Fn::...": ...}`` forms. The events and env files that the local
stack tests and ``sam local invoke`` feed to the handler are checked against the template too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"

# Every variable the rotation function reads (CONTRACT.md, "Configuration of the function", plus
# Powertools' own). The template must declare each one so operators can set it and so
# `sam local invoke --env-vars` can override it (SAM only overrides declared variables).
CONTRACT_ENV_VARS = (
    "ENV",
    "PARAMETER_PREFIX",
    "PARAMETER_KMS_KEY_ID",
    "DB_URL_SCHEME",
    "EXCLUDE_CHARACTERS",
    "PASSWORD_LENGTH",
    "DB_TLS_MODE",
    "DB_TLS_CA_FILE",
    "DB_CONNECT_TIMEOUT",
    "ROTATION_GRACE_SECONDS",
    "ACTIVE_SESSION_POLICY",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "LOG_LEVEL",
)

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


# The template's statements sit behind conditions and build ARNs from list parameters, so each IAM check
# runs on the template as CloudFormation renders it for a scenario (tests/unit/template/cfn_render.py).

ACCOUNT_REGION = "us-east-1:123456789012"
SECRET = f"arn:aws:secretsmanager:{ACCOUNT_REGION}:secret:app/aurora-AbCdEf"
MASTER = f"arn:aws:secretsmanager:{ACCOUNT_REGION}:secret:rds!cluster-1a2b-XyZ123"
KEY = f"arn:aws:kms:{ACCOUNT_REGION}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MASTER_KEY = f"arn:aws:kms:{ACCOUNT_REGION}:key/5678abcd-12ab-34cd-56ef-1234567890ab"
WEST2_KEY = "arn:aws:kms:us-west-2:123456789012:key/9999abcd-12ab-34cd-56ef-1234567890ab"
EU_KEY = "arn:aws:kms:eu-west-1:123456789012:key/8888abcd-12ab-34cd-56ef-1234567890ab"
ANY_SECRET = f"arn:aws:secretsmanager:{ACCOUNT_REGION}:secret:*"
FLEET_PATTERNS = f"arn:aws:secretsmanager:{ACCOUNT_REGION}:secret:app/*,arn:aws:secretsmanager:{ACCOUNT_REGION}:secret:orders/*"

SCENARIOS: dict[str, dict[str, str]] = {
    "one secret": {"SecretArn": SECRET, "MasterSecretArn": MASTER},
    "one secret, customer keys": {
        "SecretArn": SECRET,
        "MasterSecretArn": MASTER,
        "SecretKmsKeyArn": KEY,
        "MasterSecretKmsKeyArn": MASTER_KEY,
        "ParameterKmsKeyArn": KEY,
    },
    "fleet by tag": {"FleetByTag": "true"},
    "fleet by tag, customer keys": {
        "FleetByTag": "true",
        "SecretKmsKeyArn": KEY,
        "MasterSecretKmsKeyArn": MASTER_KEY,
    },
    "fleet by ARN patterns": {
        "FleetSecretArns": FLEET_PATTERNS,
        "FleetMasterSecretArns": f"arn:aws:secretsmanager:{ACCOUNT_REGION}:secret:rds!cluster-*",
        "ParameterPrefixes": "/db/orders,/db/billing",
    },
    "everything": {
        "SecretArn": SECRET,
        "MasterSecretArn": MASTER,
        "FleetByTag": "true",
        "FleetSecretArns": FLEET_PATTERNS,
        "FleetMasterSecretArns": MASTER,
        "ParameterPrefixes": "/db/orders,/db/billing",
        "ReplicaRegions": "us-west-2,eu-west-1",
        "ReplicaParameterKmsKeyArns": f"{WEST2_KEY},{EU_KEY}",
        "SecretKmsKeyArn": KEY,
        "ParameterKmsKeyArn": KEY,
        "RotationFailureTopicArn": f"arn:aws:sns:{ACCOUNT_REGION}:rotation-failures",
    },
}
FLEETS = [name for name in SCENARIOS if name.startswith("fleet")]
REQUIRED = {"SubnetIds": "subnet-1,subnet-2", "SecurityGroupIds": "sg-1"}


def _props(resources: dict[str, Any], name: str) -> dict[str, Any]:
    props: dict[str, Any] = resources[name]["Properties"]
    return props


def _branches(value: Any) -> Iterator[Any]:
    """Each value a template expression may take: both arms of every Fn::If, minus AWS::NoValue."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        _, when_true, when_false = value["Fn::If"]
        yield from _branches(when_true)
        yield from _branches(when_false)
    elif isinstance(value, dict) and value == {"Ref": "AWS::NoValue"}:
        return
    else:
        yield value


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _statements(resources: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(function name, statement) for every inline statement of every function, both If arms."""
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for policy in _as_list(resource["Properties"].get("Policies", [])):
            for doc in _branches(policy):
                if not isinstance(doc, dict) or "Statement" not in doc:
                    continue  # a managed policy name or ARN
                for item in _as_list(doc["Statement"]):
                    for statement in _branches(item):
                        yield name, statement


def _actions(statement: dict[str, Any]) -> set[str]:
    return {str(a).lower() for a in _as_list(statement["Action"])}
