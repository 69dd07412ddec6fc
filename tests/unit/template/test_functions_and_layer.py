"""The functions, the layer and the rotation wiring: code and runtime, environment variables, parameters
agreeing with the code, the invoke permission and schedule, the layer, outputs and the rotation window."""

from __future__ import annotations

import re
from typing import Any

from tests.unit.template.cfn_render import Rendered
from tests.unit.template.helpers import (
    CONTRACT_ENV_VARS,
    REQUIRED,
    ROOT,
    SCENARIOS,
    _as_list,
    _branches,
    _props,
)


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
