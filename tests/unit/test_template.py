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
# The one wildcard form allowed: everything under the configured Parameter Store prefix.
PREFIX_ARN = re.compile(
    r"^arn:\$\{AWS::Partition\}:ssm:\$\{AWS::Region\}:\$\{AWS::AccountId\}:parameter\$\{(?P<var>\w+)\}/\*$"
)


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


def _resource_texts(resource: Any) -> Iterator[str]:
    """A textual form of each resource: plain strings, ${Param} for a Ref, the Fn::Sub pattern."""
    for value in _branches(resource):
        if isinstance(value, list):
            for item in value:
                yield from _resource_texts(item)
        elif isinstance(value, str):
            yield str(value)
        elif isinstance(value, dict) and "Ref" in value:
            yield "${" + str(value["Ref"]) + "}"
        elif isinstance(value, dict) and "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            yield str(sub[0] if isinstance(sub, list) else sub)
        elif isinstance(value, dict) and "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            yield "${" + (".".join(target) if isinstance(target, list) else str(target)) + "}"
        else:
            raise AssertionError(f"unrecognised resource expression in a policy: {value!r}")


def _actions(statement: dict[str, Any]) -> set[str]:
    return {str(a).lower() for a in _as_list(statement["Action"])}


def _sub_variables(resource: Any) -> dict[str, Any]:
    sub = resource["Fn::Sub"]
    return dict(sub[1]) if isinstance(sub, list) else {}


# ---- IAM -------------------------------------------------------------------------------------------


def test_statements_are_allow_with_explicit_actions(resources: dict[str, Any]) -> None:
    statements = list(_statements(resources))
    assert statements, "no inline policy statements found"
    for name, statement in statements:
        assert statement.get("Effect") == "Allow", (name, statement)
        assert "NotAction" not in statement and "NotResource" not in statement, (name, statement)
        for action in _actions(statement):
            assert "*" not in action, f"{name}: wildcard action {action!r}"


def test_write_actions_never_on_a_wildcard(resources: dict[str, Any]) -> None:
    checked = set()
    for name, statement in _statements(resources):
        writes = _actions(statement) & WRITE_ACTIONS
        if not writes:
            continue
        checked |= writes
        for text in _resource_texts(statement["Resource"]):
            if "*" not in text:
                continue
            # Only the parameter-prefix form may hold a '*', and only for SSM actions.
            assert PREFIX_ARN.match(text), f"{name}: {sorted(writes)} on wildcard resource {text!r}"
            assert all(a.startswith("ssm:") for a in _actions(statement)), (name, statement)
    assert checked == WRITE_ACTIONS, f"write actions not granted anywhere: {WRITE_ACTIONS - checked}"


def test_star_resource_only_for_resourceless_actions(resources: dict[str, Any]) -> None:
    for name, statement in _statements(resources):
        texts = list(_resource_texts(statement["Resource"]))
        if "*" in texts:
            assert _actions(statement) <= RESOURCELESS_ACTIONS, f"{name}: Resource '*' for {statement}"
        for text in texts:
            if "*" in text and text != "*":
                assert PREFIX_ARN.match(text), f"{name}: unexpected wildcard resource {text!r}"


def test_rotation_policy_names_the_secret_master_and_prefix(resources: dict[str, Any]) -> None:
    rotation = [s for name, s in _statements(resources) if name == "RotationFunction"]

    def granted_on(action: str) -> list[Any]:
        return [s["Resource"] for s in rotation if action.lower() in _actions(s)]

    for action in (
        "secretsmanager:DescribeSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
    ):
        assert granted_on(action) == [{"Ref": "SecretArn"}], action
    assert sorted(map(str, granted_on("secretsmanager:GetSecretValue"))) == sorted(
        map(str, [{"Ref": "SecretArn"}, {"Ref": "MasterSecretArn"}])
    )
    # The master secret is read-only.
    for statement in rotation:
        if statement["Resource"] == {"Ref": "MasterSecretArn"}:
            assert _actions(statement) == {"secretsmanager:getsecretvalue"}

    for action in ("ssm:PutParameter", "ssm:GetParameters"):
        (resource,) = granted_on(action)
        (text,) = _resource_texts(resource)
        match = PREFIX_ARN.match(text)
        assert match, f"{action} is not scoped to the parameter prefix: {text!r}"
        prefix = _sub_variables(resource)[match.group("var")]
        assert {"Ref": "ParameterPrefix"} in list(_branches(prefix)), prefix


# The encryption context each service passes to KMS: Secrets Manager {"SecretARN": <secret ARN>, ...}
# ("Secret encryption and decryption in AWS Secrets Manager"), Parameter Store {"PARAMETER_ARN":
# <parameter ARN>} ("AWS KMS encryption for AWS Systems Manager Parameter Store SecureString parameters").
KEY_CONTEXTS = {
    "SecretKmsKeyArn": ("StringEquals", "kms:EncryptionContext:SecretARN"),
    "MasterSecretKmsKeyArn": ("StringEquals", "kms:EncryptionContext:SecretARN"),
    "ParameterKmsKeyArn": ("StringLike", "kms:EncryptionContext:PARAMETER_ARN"),
}


def test_kms_grants_are_conditional_and_scoped(resources: dict[str, Any]) -> None:
    kms = [(name, s) for name, s in _statements(resources) if any(a.startswith("kms:") for a in _actions(s))]
    assert kms
    for name, statement in kms:
        keys = [branch["Ref"] for branch in _branches(statement["Resource"])]
        assert keys and set(keys) <= set(KEY_CONTEXTS), (name, statement)
        assert "kms:ViaService" in statement["Condition"]["StringEquals"], (name, statement)
        for key in keys:
            operator, context_key = KEY_CONTEXTS[key]
            assert context_key in statement["Condition"].get(operator, {}), (name, key, statement)
    contexts = {
        s["Sid"]: s["Condition"]["StringEquals"].get("kms:EncryptionContext:SecretARN")
        for _, s in kms
        if "kms:EncryptionContext:SecretARN" in s["Condition"]["StringEquals"]
    }
    assert contexts == {
        "SecretKeyThroughSecretsManager": {"Ref": "SecretArn"},
        "MasterSecretKeyThroughSecretsManager": {"Ref": "MasterSecretArn"},
    }
    for _, s in kms:
        if "kms:EncryptionContext:PARAMETER_ARN" in s["Condition"].get("StringLike", {}):
            (text,) = _resource_texts(s["Condition"]["StringLike"]["kms:EncryptionContext:PARAMETER_ARN"])
            assert PREFIX_ARN.match(text), text
    # Each key grant sits in an Fn::If on its key parameter, so an empty key adds no statement.
    for resource in resources.values():
        for policy in _as_list(resource.get("Properties", {}).get("Policies", [])):
            if isinstance(policy, dict) and "Statement" in policy:
                for item in _as_list(policy["Statement"]):
                    if isinstance(item, dict) and "Action" in item:
                        assert not any(a.startswith("kms:") for a in _actions(item)), item


def test_consumer_reads_only(resources: dict[str, Any]) -> None:
    actions = set().union(*(_actions(s) for name, s in _statements(resources) if name == "ConsumerFunction"))
    assert actions <= {"ssm:getparameters", "ssm:getparameter", "kms:decrypt"}, actions


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
    assert params["DbUrlScheme"]["Default"] == "mysql+pymysql"


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
