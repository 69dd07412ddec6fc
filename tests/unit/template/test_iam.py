"""Least-privilege IAM of the rotation and consumer functions, rendered for each way of deploying:
statements, write scoping, fleets, replica regions and KMS grants."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.unit.template.cfn_render import Rendered
from tests.unit.template.helpers import (
    ANY_SECRET,
    EU_KEY,
    EVENTS,
    FLEET_PATTERNS,
    FLEETS,
    KEY,
    MASTER,
    MASTER_KEY,
    REQUIRED,
    ROOT,
    SCENARIOS,
    SECRET,
    WEST2_KEY,
    _actions,
    _as_list,
    _statements,
)

# Actions that change the secret or the mirror: never on a wildcard resource.
WRITE_ACTIONS = frozenset(
    {"ssm:putparameter", "secretsmanager:putsecretvalue", "secretsmanager:updatesecretversionstage"}
)


# Actions that IAM evaluates against no resource, so '*' is the only possible Resource.
RESOURCELESS_ACTIONS = frozenset({"secretsmanager:getrandompassword"})


FULL_SECRET_ARN = re.compile(r"^arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:[^*]+-[A-Za-z0-9]{6}$")


THIS_FUNCTION = "<RotationFunction.Arn>"


def _rotation_statements(stack: Rendered) -> list[dict[str, Any]]:
    """Every statement the rotation function's role gets: its inline policies and the fleet policy."""
    statements = [
        s for doc in stack.resources["RotationFunction"]["Properties"]["Policies"] for s in doc["Statement"]
    ]
    fleet = stack.resources.get("RotationFleetPolicy")
    if fleet:
        assert fleet["Properties"]["Roles"] == ["<RotationFunctionRole>"]
        statements += fleet["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _resources_of(statement: dict[str, Any]) -> list[str]:
    return [str(r) for r in _as_list(statement["Resource"])]


def _granted(stack: Rendered, action: str) -> list[dict[str, Any]]:
    return [s for s in _rotation_statements(stack) if action.lower() in _actions(s)]


def _sids(stack: Rendered) -> set[str]:
    return {s["Sid"] for s in _rotation_statements(stack)}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_statements_are_allow_with_explicit_actions(rendered: dict[str, Rendered], scenario: str) -> None:
    statements = _rotation_statements(rendered[scenario])
    assert statements
    for statement in statements:
        assert statement.get("Effect") == "Allow", statement
        assert "NotAction" not in statement and "NotResource" not in statement, statement
        assert all("*" not in a for a in _actions(statement)), statement
        assert all(r for r in _resources_of(statement)), f"an empty resource: {statement}"
    assert len({s["Sid"] for s in statements}) == len(statements), "duplicate Sids"


def _prefix_of(arn: str) -> str:
    match = re.fullmatch(
        r"arn:(?:aws|\*):ssm:(?:[a-z0-9-]+|\*|\$\{aws:RequestedRegion\}):(?:\d{12}|\$\{aws:PrincipalAccount\}):"
        r"parameter(?P<prefix>(?:/[A-Za-z0-9_.-]+)+)/\*",
        arn,
    )
    assert match, f"not a parameter-prefix ARN: {arn}"
    return match.group("prefix")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_write_actions_are_scoped(rendered: dict[str, Rendered], scenario: str) -> None:
    """A wildcard on a write is a prefix in a listed region, or a secret whose rotation function is
    this one; '*' alone only for GetRandomPassword."""
    stack = rendered[scenario]
    prefixes = {"/db/dev"} | {p for p in stack.params["ParameterPrefixes"] if p}
    regions = {"us-east-1"} | {r for r in stack.params["ReplicaRegions"] if r}
    for statement in _rotation_statements(stack):
        resources = _resources_of(statement)
        if "*" in resources:
            assert _actions(statement) <= RESOURCELESS_ACTIONS, statement
            continue
        writes = _actions(statement) & WRITE_ACTIONS
        if not writes:
            continue
        condition = statement.get("Condition", {}).get("StringEquals", {})
        for arn in resources:
            if arn.startswith("arn:aws:ssm:us-east-1:123456789012:parameter") or ":ssm:" in arn:
                assert _prefix_of(arn) in prefixes, arn
                if not arn.startswith("arn:aws:ssm:us-east-1:123456789012:"):
                    assert set(_as_list(condition["aws:RequestedRegion"])) <= regions, statement
            elif "*" in arn:
                assert condition.get("secretsmanager:resource/AllowRotationLambdaArn") == THIS_FUNCTION, (
                    statement
                )
            else:
                assert arn == SECRET, statement


@pytest.mark.parametrize("scenario", FLEETS)
def test_fleet_iam_names_no_single_secret_arn(rendered: dict[str, Rendered], scenario: str) -> None:
    stack = rendered[scenario]
    text = json.dumps(_rotation_statements(stack))
    assert not [
        arn for arn in re.findall(r'"(arn:aws:secretsmanager:[^"]+)"', text) if FULL_SECRET_ARN.match(arn)
    ]
    for statement in _granted(stack, "secretsmanager:PutSecretValue"):
        condition = statement["Condition"]["StringEquals"]
        assert condition["secretsmanager:resource/AllowRotationLambdaArn"] == THIS_FUNCTION, statement
    assert (
        "RotationSchedule" not in stack.resources
        and "RotationFunctionInvokePermission" not in stack.resources
    )
    permission = stack.resources["RotationFunctionFleetInvokePermission"]["Properties"]
    assert (permission["SourceArn"], permission["SourceAccount"]) == (ANY_SECRET, "123456789012")
    assert permission["Principal"] == "secretsmanager.amazonaws.com"


def test_the_tag_names_this_stack_and_masters_are_read_only(rendered: dict[str, Rendered]) -> None:
    stack = rendered["fleet by tag"]
    by_sid = {s["Sid"]: s for s in _rotation_statements(stack)}
    rotate, read = by_sid["RotateTheTaggedSecrets"], by_sid["ReadTheTaggedMasterSecrets"]
    assert rotate["Resource"] == read["Resource"] == ANY_SECRET
    assert rotate["Condition"]["StringEquals"] == {
        "aws:ResourceTag/bluegreen-rotation": "fleet",
        "secretsmanager:resource/AllowRotationLambdaArn": THIS_FUNCTION,
    }
    # RDS rotates its master secrets itself: no rotation-function condition, and only reads.
    assert read["Condition"]["StringEquals"] == {"aws:ResourceTag/bluegreen-rotation": "fleet"}
    assert _actions(read) == {"secretsmanager:getsecretvalue"}
    listed = rendered["fleet by ARN patterns"]
    by_sid = {s["Sid"]: s for s in _rotation_statements(listed)}
    assert by_sid["RotateTheListedSecrets"]["Resource"] == FLEET_PATTERNS.split(",")
    assert _actions(by_sid["ReadTheListedMasterSecrets"]) == {"secretsmanager:getsecretvalue"}
    assert stack.outputs["FleetTag"]["Value"] == "bluegreen-rotation=fleet"


def test_one_attached_secret_is_scoped_to_exactly_it(rendered: dict[str, Rendered]) -> None:
    stack = rendered["one secret"]
    assert "RotationFleetPolicy" not in stack.resources
    assert "RotationFunctionFleetInvokePermission" not in stack.resources
    for action in (
        "secretsmanager:DescribeSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
    ):
        assert [s["Resource"] for s in _granted(stack, action)] == [SECRET], action
    assert sorted(s["Resource"] for s in _granted(stack, "secretsmanager:GetSecretValue")) == sorted(
        [SECRET, MASTER]
    )
    for action in ("ssm:PutParameter", "ssm:GetParameters"):
        (statement,) = _granted(stack, action)
        assert statement["Resource"] == "arn:aws:ssm:us-east-1:123456789012:parameter/db/dev/*"
    assert stack.resources["RotationSchedule"]["Properties"]["SecretId"] == SECRET
    assert stack.resources["RotationFunctionInvokePermission"]["Properties"]["SourceArn"] == SECRET


def test_each_fleet_prefix_is_granted_in_every_region(rendered: dict[str, Rendered]) -> None:
    stack = rendered["everything"]
    by_sid = {s["Sid"]: s for s in _rotation_statements(stack)}
    fleet = by_sid["MirrorUnderTheFleetPrefixes"]
    assert {_prefix_of(arn) for arn in fleet["Resource"]} == {"/db/orders", "/db/billing"}
    # The region and account of each ARN are the request's: IAM policy variables, bounded by the condition.
    assert all(":ssm:${aws:RequestedRegion}:${aws:PrincipalAccount}:" in arn for arn in fleet["Resource"])
    assert fleet["Condition"]["StringEquals"]["aws:RequestedRegion"] == [
        "us-east-1",
        "us-west-2",
        "eu-west-1",
    ]
    alone = {s["Sid"]: s for s in _rotation_statements(rendered["fleet by ARN patterns"])}
    assert alone["MirrorUnderTheFleetPrefixes"]["Condition"]["StringEquals"]["aws:RequestedRegion"] == [
        "us-east-1"
    ]


def test_replica_regions_get_the_prefix_and_their_own_keys(rendered: dict[str, Rendered]) -> None:
    stack = rendered["everything"]
    by_sid = {s["Sid"]: s for s in _rotation_statements(stack)}
    replicas = by_sid["MirrorInReplicaRegions"]
    assert replicas["Resource"] == "arn:aws:ssm:*:123456789012:parameter/db/dev/*"
    assert replicas["Condition"]["StringEquals"]["aws:RequestedRegion"] == ["us-west-2", "eu-west-1"]
    assert _actions(replicas) == {"ssm:putparameter", "ssm:getparameters"}
    keys = by_sid["ReplicaParameterKeysThroughSsm"]
    assert keys["Resource"] == [WEST2_KEY, EU_KEY]
    assert keys["Condition"]["StringEquals"]["kms:ViaService"] == [
        "ssm.us-west-2.amazonaws.com",
        "ssm.eu-west-1.amazonaws.com",
    ]
    contexts = keys["Condition"]["StringLike"]["kms:EncryptionContext:PARAMETER_ARN"]
    assert {_prefix_of(arn) for arn in contexts} == {"/db/dev", "/db/orders", "/db/billing"}
    variables = stack.resources["RotationFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["REPLICA_PARAMETER_KMS_KEY_ARNS"] == f"{WEST2_KEY},{EU_KEY}"
    for scenario in ("one secret", "fleet by tag", "fleet by ARN patterns"):
        assert not {"MirrorInReplicaRegions", "ReplicaParameterKeysThroughSsm"} & _sids(rendered[scenario])


def test_the_code_reads_the_replica_keys_the_template_passes() -> None:
    from bluegreen_rotation.regions import REPLICA_KMS_KEYS_VARIABLE, replica_kms_keys

    env = json.loads((EVENTS / "env.json").read_text())["RotationFunction"]
    assert REPLICA_KMS_KEYS_VARIABLE in env
    assert replica_kms_keys({REPLICA_KMS_KEYS_VARIABLE: f"{WEST2_KEY},{EU_KEY}"}) == (WEST2_KEY, EU_KEY)


# The encryption context each service passes to KMS: Secrets Manager {"SecretARN": <secret ARN>, ...}
# ("Secret encryption and decryption in AWS Secrets Manager"), Parameter Store {"PARAMETER_ARN":
# <parameter ARN>} ("AWS KMS encryption for AWS Systems Manager Parameter Store SecureString parameters").
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_kms_grants_are_scoped_to_their_service_and_context(
    rendered: dict[str, Rendered], scenario: str
) -> None:
    stack = rendered[scenario]
    given = {stack.params[k] for k in ("SecretKmsKeyArn", "MasterSecretKmsKeyArn", "ParameterKmsKeyArn")} - {
        ""
    }
    given |= {k for k in stack.params["ReplicaParameterKmsKeyArns"] if k}
    kms = [s for s in _rotation_statements(stack) if any(a.startswith("kms:") for a in _actions(s))]
    assert bool(kms) == bool(given)
    for statement in kms:
        assert set(_resources_of(statement)) <= given, statement
        condition = statement["Condition"]
        via = _as_list(condition["StringEquals"]["kms:ViaService"])
        assert via and all(re.fullmatch(r"(secretsmanager|ssm)\.[a-z0-9-]+\.amazonaws\.com", v) for v in via)
        contexts = {**condition.get("StringEquals", {}), **condition.get("StringLike", {})}
        if via[0].startswith("ssm."):
            assert all(_prefix_of(a) for a in _as_list(contexts["kms:EncryptionContext:PARAMETER_ARN"]))
        else:
            (context,) = _as_list(contexts["kms:EncryptionContext:SecretARN"])
            assert context in {SECRET, MASTER, ANY_SECRET}, statement
    if scenario == "one secret, customer keys":
        contexts = {
            s["Sid"]: s["Condition"]["StringEquals"].get("kms:EncryptionContext:SecretARN") for s in kms
        }
        assert contexts["SecretKeyThroughSecretsManager"] == SECRET
        assert contexts["MasterSecretKeyThroughSecretsManager"] == MASTER


def test_the_master_secrets_key_is_granted_in_a_fleet(rendered: dict[str, Rendered]) -> None:
    """An RDS-managed master secret is encrypted with the cluster's chosen key: MasterSecretKmsKeyArn."""
    by_sid = {s["Sid"]: s for s in _rotation_statements(rendered["fleet by tag, customer keys"])}
    master = by_sid["FleetMasterSecretKeyThroughSecretsManager"]
    assert (master["Resource"], _actions(master)) == (MASTER_KEY, {"kms:decrypt"})
    assert by_sid["FleetSecretKeyThroughSecretsManager"]["Resource"] == KEY


def test_a_stack_must_rotate_something(template: dict[str, Any]) -> None:
    def holds(rule: str, **params: str) -> bool:
        return Rendered(template, {**REQUIRED, **params}).rule_holds(rule)

    assert not holds("SomethingToRotate")
    assert holds("SomethingToRotate", SecretArn=SECRET)
    assert holds("SomethingToRotate", FleetByTag="true")
    assert holds("SomethingToRotate", FleetSecretArns=FLEET_PATTERNS)
    assert not holds("AttachedSecretHasItsMaster", SecretArn=SECRET)
    assert holds("AttachedSecretHasItsMaster", SecretArn=SECRET, MasterSecretArn=MASTER)
    assert holds("AttachedSecretHasItsMaster", FleetByTag="true")


def test_consumer_reads_only(resources: dict[str, Any]) -> None:
    actions = set().union(*(_actions(s) for name, s in _statements(resources) if name == "ConsumerFunction"))
    assert actions <= {"ssm:getparameters", "ssm:getparameter", "kms:decrypt"}, actions


def test_only_the_parameter_store_calls_the_code_makes_are_granted(resources: dict[str, Any]) -> None:
    calls = set()
    for path in (ROOT / "rotation_lambda").rglob("*.py"):
        calls |= set(re.findall(r"\.((?:get|put|delete)_parameter\w*)\(", path.read_text()))
    needed = {"ssm:" + "".join(part.title() for part in call.split("_")) for call in calls}
    granted = set().union(
        *(
            {a for a in _actions(s) if a.startswith("ssm:")}
            for name, s in _statements(resources)
            if name == "RotationFunction"
        )
    )
    assert granted == {a.lower() for a in needed} == {"ssm:putparameter", "ssm:getparameters"}
