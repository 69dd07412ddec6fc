"""Static checks of template.yaml: least-privilege IAM, the rotation wiring and the function's configuration.

The template is read with cfn-lint's loader, which turns the short-form tags (``!Ref``, ``!Sub``, ``!If``...)
into their long ``{"Ref": ...}`` / ``{"Fn::...": ...}`` forms. The events and env files that the local
stack tests and ``sam local invoke`` feed to the handler are checked against the template too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from tests.unit.cfn_render import Rendered

ROOT = Path(__file__).resolve().parents[2]
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

# Actions that change the secret or the mirror: never on a wildcard resource.
WRITE_ACTIONS = frozenset(
    {"ssm:putparameter", "secretsmanager:putsecretvalue", "secretsmanager:updatesecretversionstage"}
)
# Actions that IAM evaluates against no resource, so '*' is the only possible Resource.
RESOURCELESS_ACTIONS = frozenset({"secretsmanager:getrandompassword"})


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = cfn_yaml.load(str(TEMPLATE))
    return loaded


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    res: dict[str, Any] = template["Resources"]
    return res


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


# ---- IAM, rendered for each way of deploying ---------------------------------------------------------
#
# The template's statements sit behind conditions and build ARNs from list parameters, so each check
# runs on the template as CloudFormation renders it for a scenario (tests/unit/cfn_render.py).

ACCOUNT_REGION = "us-east-1:123456789012"
SECRET = f"arn:aws:secretsmanager:{ACCOUNT_REGION}:secret:app/aurora-AbCdEf"
MASTER = f"arn:aws:secretsmanager:{ACCOUNT_REGION}:secret:rds!cluster-1a2b-XyZ123"
KEY = f"arn:aws:kms:{ACCOUNT_REGION}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MASTER_KEY = f"arn:aws:kms:{ACCOUNT_REGION}:key/5678abcd-12ab-34cd-56ef-1234567890ab"
WEST2_KEY = "arn:aws:kms:us-west-2:123456789012:key/9999abcd-12ab-34cd-56ef-1234567890ab"
EU_KEY = "arn:aws:kms:eu-west-1:123456789012:key/8888abcd-12ab-34cd-56ef-1234567890ab"
ANY_SECRET = f"arn:aws:secretsmanager:{ACCOUNT_REGION}:secret:*"
FLEET_PATTERNS = f"arn:aws:secretsmanager:{ACCOUNT_REGION}:secret:app/*,arn:aws:secretsmanager:{ACCOUNT_REGION}:secret:orders/*"
FULL_SECRET_ARN = re.compile(r"^arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:[^*]+-[A-Za-z0-9]{6}$")
THIS_FUNCTION = "<RotationFunction.Arn>"

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


@pytest.fixture(scope="module")
def rendered(template: dict[str, Any]) -> dict[str, Rendered]:
    return {name: Rendered(template, {**REQUIRED, **params}) for name, params in SCENARIOS.items()}


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


# ---- rotation failure events -------------------------------------------------------------------------


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


# ---- the functions, the layer and the rotation wiring ------------------------------------------------


def test_rotation_function_code_and_runtime(template: dict[str, Any], resources: dict[str, Any]) -> None:
    props = _props(resources, "RotationFunction")
    assert props["CodeUri"] == "rotation_lambda/"
    assert props["Handler"] == "app.lambda_handler"
    assert props["Runtime"] == "python3.12"
    assert list(props["Architectures"]) == [{"Ref": "Architecture"}]
    assert template["Parameters"]["Architecture"]["Default"] == "arm64"
    assert {"Ref": "ConsumerLayer"} in props["Layers"]
    assert 10 <= int(props["Timeout"]) <= 120
    assert int(props["MemorySize"]) >= 128
    assert "ReservedConcurrentExecutions" in props


def test_functions_run_in_the_vpc_with_tracing(template: dict[str, Any], resources: dict[str, Any]) -> None:
    globals_ = template.get("Globals", {}).get("Function", {})
    for name in ("RotationFunction", "ConsumerFunction"):
        props = {**globals_, **_props(resources, name)}
        assert props["Tracing"] == "Active", name
        assert props["VpcConfig"]["SubnetIds"] == {"Ref": "SubnetIds"}, name
        assert props["VpcConfig"]["SecurityGroupIds"] == {"Ref": "SecurityGroupIds"}, name


def test_every_contract_variable_is_declared(template: dict[str, Any], resources: dict[str, Any]) -> None:
    global_vars = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    variables = {**global_vars, **_props(resources, "RotationFunction")["Environment"]["Variables"]}
    missing = [v for v in CONTRACT_ENV_VARS if v not in variables]
    assert not missing, f"not declared on RotationFunction: {missing}"
    parameters = template["Parameters"]
    for name, value in variables.items():
        for branch in _branches(value):
            refs = [branch["Ref"]] if isinstance(branch, dict) and "Ref" in branch else []
            for ref in refs:
                assert ref in parameters, f"{name} refers to unknown parameter {ref}"
                assert parameters[ref].get("Description"), f"parameter {ref} has no Description"


def test_parameters_agree_with_the_code(template: dict[str, Any]) -> None:
    from bluegreen_rotation import config

    params = template["Parameters"]
    assert list(params["DbTlsMode"]["AllowedValues"]) == list(config.TLS_MODES)
    assert params["DbTlsMode"]["Default"] == "verify-full"
    assert list(params["ActiveSessionPolicy"]["AllowedValues"]) == list(config.SESSION_POLICIES)
    assert params["ActiveSessionPolicy"]["Default"] == "fail"
    # The code's default without the backslash, which samconfig.toml cannot round-trip
    # (tests/unit/test_samconfig_roundtrip.py, docs/deploy.md).
    assert params["ExcludeCharacters"]["Default"] == config.DEFAULT_EXCLUDE_CHARACTERS.replace("\\", "")
    assert int(params["PasswordLength"]["Default"]) == 32
    assert int(params["DbConnectTimeout"]["Default"]) == 5
    assert int(params["RotationGraceSeconds"]["Default"]) == 900
    # Empty: DB_URL_SCHEME stays unset and each secret's engine picks its scheme (config.url_scheme).
    assert params["DbUrlScheme"]["Default"] == ""


def test_the_url_scheme_is_the_engines_unless_set(template: dict[str, Any]) -> None:
    def scheme(**params: str) -> Any:
        stack = Rendered(template, {**REQUIRED, **SCENARIOS["one secret"], **params})
        return stack.resources["RotationFunction"]["Properties"]["Environment"]["Variables"].get(
            "DB_URL_SCHEME"
        )

    assert scheme() is None
    assert scheme(DbUrlScheme="mysql+mysqldb") == "mysql+mysqldb"


def _port_rules(stack: Rendered) -> dict[int, list[tuple[str, dict[str, Any]]]]:
    rules: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for resource in stack.resources.values():
        kind = resource["Type"]
        if kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
            props = resource["Properties"]
            assert props["FromPort"] == props["ToPort"] and props["IpProtocol"] == "tcp"
            rules.setdefault(int(props["FromPort"]), []).append((kind, props))
    return rules


def test_the_database_port_rules_cover_5432_beside_3306(template: dict[str, Any]) -> None:
    """One function serves both engines: the cluster's group admits the functions' group on 3306
    (Aurora MySQL) and 5432 (Aurora PostgreSQL), and the functions' group may reach it, nothing wider."""
    cluster, functions = "sg-0cluster0000000", "sg-0functions00000"
    base = {**REQUIRED, **SCENARIOS["one secret"], "SecurityGroupIds": f"{functions},sg-0other000000000"}
    assert _port_rules(Rendered(template, base)) == {}  # no cluster group given: managed elsewhere
    both = _port_rules(Rendered(template, {**base, "DatabaseSecurityGroupId": cluster}))
    assert set(both) == {3306, 5432}
    for rules in both.values():
        assert sorted(kind for kind, _ in rules) == [
            "AWS::EC2::SecurityGroupEgress",
            "AWS::EC2::SecurityGroupIngress",
        ]
        for kind, props in rules:
            if kind == "AWS::EC2::SecurityGroupIngress":
                assert (props["GroupId"], props["SourceSecurityGroupId"]) == (cluster, functions)
            else:
                assert (props["GroupId"], props["DestinationSecurityGroupId"]) == (functions, cluster)
            assert "CidrIp" not in props
    only_pg = {**base, "DatabaseSecurityGroupId": cluster, "DatabaseEngines": "postgresql"}
    assert set(_port_rules(Rendered(template, only_pg))) == {5432}
    only_mysql = {**base, "DatabaseSecurityGroupId": cluster, "DatabaseEngines": "mysql"}
    assert set(_port_rules(Rendered(template, only_mysql))) == {3306}


def test_invoke_permission_is_scoped(resources: dict[str, Any]) -> None:
    permission = resources["RotationFunctionInvokePermission"]
    assert permission["Type"] == "AWS::Lambda::Permission"
    props = permission["Properties"]
    assert props["Principal"] == "secretsmanager.amazonaws.com"
    assert props["Action"] == "lambda:InvokeFunction"
    assert props["SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert props["SourceArn"] == {"Ref": "SecretArn"}
    assert props["FunctionName"] == {"Fn::GetAtt": ["RotationFunction", "Arn"]}


def test_rotation_schedule_depends_on_the_permission(resources: dict[str, Any]) -> None:
    schedule = resources["RotationSchedule"]
    assert schedule["Type"] == "AWS::SecretsManager::RotationSchedule"
    assert "RotationFunctionInvokePermission" in _as_list(schedule.get("DependsOn", []))
    props = schedule["Properties"]
    assert props["SecretId"] == {"Ref": "SecretArn"}
    assert props["RotationLambdaARN"] == {"Fn::GetAtt": ["RotationFunction", "Arn"]}
    assert props["RotationRules"]["ScheduleExpression"] == {"Ref": "RotationScheduleExpression"}
    assert "Duration" in props["RotationRules"]
    assert "RotateImmediatelyOnUpdate" in props


def test_consumer_layer(resources: dict[str, Any]) -> None:
    layer = resources["ConsumerLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    props = layer["Properties"]
    assert props["ContentUri"] == "layer/"
    assert set(props["CompatibleRuntimes"]) == {"python3.11", "python3.12"}
    assert set(props["CompatibleArchitectures"]) == {"arm64", "x86_64"}
    assert props["RetentionPolicy"] == "Retain"
    # Without a BuildMethod layer/python/bluegreen_db is zipped as is: /opt/python/bluegreen_db.
    assert "BuildMethod" not in layer.get("Metadata", {})
    assert (ROOT / "layer" / "python" / "bluegreen_db" / "__init__.py").is_file()


def test_consumer_function(resources: dict[str, Any]) -> None:
    props = _props(resources, "ConsumerFunction")
    assert props["CodeUri"] == "examples/consumer_function/"
    assert props["Handler"] == "consumer_handler.lambda_handler"
    assert props["Runtime"] == "python3.12"
    assert {"Ref": "ConsumerLayer"} in props["Layers"]
    assert {"ENV", "PARAMETER_PREFIX"} <= set(props["Environment"]["Variables"])


def test_outputs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert outputs["RotationFunctionArn"]["Value"] == {"Fn::GetAtt": ["RotationFunction", "Arn"]}
    assert outputs["ConsumerFunctionArn"]["Value"] == {"Fn::GetAtt": ["ConsumerFunction", "Arn"]}
    assert outputs["ConsumerLayerArn"]["Value"] == {"Ref": "ConsumerLayer"}
    # An imported export can never change, and every layer change publishes a new version ARN.
    assert not [name for name, output in outputs.items() if "Export" in output]


def test_latest_layer_arn_is_in_parameter_store_under_the_naming_modules_name(
    resources: dict[str, Any],
) -> None:
    from bluegreen_db.naming import ParameterNames

    parameter = resources["ConsumerLayerArnParameter"]
    assert parameter["Type"] == "AWS::SSM::Parameter"
    props = parameter["Properties"]
    assert props["Type"] == "String"
    assert props["Value"] == {"Ref": "ConsumerLayer"}
    pattern, variables = props["Name"]["Fn::Sub"]
    assert {"Ref": "ParameterPrefix"} in list(_branches(variables["Prefix"]))
    assert pattern.replace("${Prefix}", "/db/x") == ParameterNames("/db/x").layer_arn


def _condition(template: dict[str, Any], expression: Any, values: dict[str, str]) -> Any:
    """Evaluates a Conditions expression for the given parameter values (the few functions used)."""
    if isinstance(expression, dict):
        ((fn, args),) = expression.items()
        if fn == "Ref":
            return values[args]
        if fn == "Condition":
            return _condition(template, template["Conditions"][args], values)
        evaluated = [_condition(template, a, values) for a in args]
        return {
            "Fn::Equals": lambda: evaluated[0] == evaluated[1],
            "Fn::Not": lambda: not evaluated[0],
            "Fn::Or": lambda: any(evaluated),
            "Fn::And": lambda: all(evaluated),
        }[fn]()
    return expression


def test_no_concurrency_is_reserved_by_default(template: dict[str, Any], resources: dict[str, Any]) -> None:
    parameter = template["Parameters"]["RotationReservedConcurrency"]
    reserved = _props(resources, "RotationFunction")["ReservedConcurrentExecutions"]
    condition, when_true, when_false = reserved["Fn::If"]
    assert (when_true, when_false) == ({"Ref": "RotationReservedConcurrency"}, {"Ref": "AWS::NoValue"})
    expression = template["Conditions"][condition]
    for value, reserves in ((parameter["Default"], False), ("", False), ("0", False), ("10", True)):
        assert re.fullmatch(parameter["AllowedPattern"], value), value
        assert _condition(template, expression, {"RotationReservedConcurrency": value}) is reserves, value


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


# RotationRules.Duration "must not extend into the next rotation window or the next UTC day" (Secrets
# Manager API reference, RotationRulesType). CloudFormation Rules have no arithmetic or pattern
# functions, so the template cannot check a cron() hour plus the window: docs/deploy.md documents it
# and this checks the default and the documented examples.
def window_fits(expression: str, window: str) -> bool:
    hours = int(window.rstrip("h")) if window else 0
    cron = re.fullmatch(r"cron\(\s*\S+\s+(\d+)\s+.*\)", expression)
    if cron:
        return int(cron.group(1)) + hours <= 24
    rate = re.fullmatch(r"rate\((\d+) (hour|hours|day|days)\)", expression)
    assert rate, expression
    return hours <= (int(rate.group(1)) if rate.group(2).startswith("hour") else 24)


def test_the_default_rotation_window_fits_the_day(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert window_fits(params["RotationScheduleExpression"]["Default"], params["RotationWindow"]["Default"])
    assert window_fits("cron(0 1 ? * SUN *)", "4h")  # docs/deploy.md's example
    assert window_fits("cron(0 21 * * ? *)", "3h")
    assert not window_fits("cron(0 22 * * ? *)", "3h")  # reaches into the next UTC day: rejected
    assert not window_fits("rate(4 hours)", "6h")  # reaches into the next window


# ---- events and env files ----------------------------------------------------------------------------

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


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
