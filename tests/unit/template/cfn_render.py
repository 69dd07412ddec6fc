"""Renders template.yaml for given parameter values: conditions decided, intrinsic functions resolved.

Static checks of the template's expressions cannot tell what a deployment with a given set of
parameters gets (a statement behind two nested ``Fn::If``, ARNs built with ``Fn::Split``/``Fn::Join``),
so the IAM and event tests render the template the way CloudFormation would and check the result.
Only the functions template.yaml uses are implemented; anything else fails loudly. A reference to a
resource renders as ``<Name>`` and ``Fn::GetAtt`` as ``<Name.Attribute>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "fleet",
    "AWS::URLSuffix": "amazonaws.com",
}
_NO_VALUE = object()
_SUB_VAR = re.compile(r"\$\{([^}]+)\}")


class Rendered:
    def __init__(self, template: Mapping[str, Any], overrides: Mapping[str, str]) -> None:
        self.template = template
        self.params: dict[str, Any] = {}
        for name, spec in template["Parameters"].items():
            raw = overrides.get(name, spec.get("Default"))
            assert raw is not None, f"parameter {name} has no default: give it"
            listed = spec["Type"] == "CommaDelimitedList" or spec["Type"].startswith("List<")
            self.params[name] = str(raw).split(",") if listed else str(raw)
        # SAM generates each function's execution role, <Function>Role.
        self.names = set(template["Resources"]) | {
            f"{name}Role"
            for name, resource in template["Resources"].items()
            if resource["Type"] == "AWS::Serverless::Function"
        }
        unknown = set(overrides) - set(self.params)
        assert not unknown, f"not parameters of the template: {unknown}"
        self.resources = {
            name: self.resolve(resource)
            for name, resource in template["Resources"].items()
            if "Condition" not in resource or self.condition(resource["Condition"])
        }
        self.outputs = {
            name: self.resolve(output)
            for name, output in template.get("Outputs", {}).items()
            if "Condition" not in output or self.condition(output["Condition"])
        }

    def condition(self, name: str) -> bool:
        return bool(self._evaluate(self.template["Conditions"][name]))

    def rule_holds(self, name: str) -> bool:
        return all(self._evaluate(a["Assert"]) for a in self.template["Rules"][name]["Assertions"])

    def _evaluate(self, expression: Any) -> Any:
        if not isinstance(expression, dict):
            return expression
        ((fn, args),) = expression.items()
        if fn == "Condition":
            return self.condition(args)
        if fn == "Ref" or fn not in {"Fn::Equals", "Fn::Not", "Fn::Or", "Fn::And", "Fn::EachMemberEquals"}:
            return self.resolve(expression)
        values = [self._evaluate(a) for a in args]
        if fn == "Fn::Equals":
            return values[0] == values[1]
        if fn == "Fn::Not":
            return not values[0]
        if fn == "Fn::Or":
            return any(values)
        if fn == "Fn::And":
            return all(values)
        return all(member == values[1] for member in values[0])  # Fn::EachMemberEquals

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, args),) = value.items()
            if key == "Ref":
                return self._ref(args)
            if key == "Fn::If":
                condition, when_true, when_false = args
                return self.resolve(when_true if self.condition(condition) else when_false)
            if key == "Fn::Sub":
                return self._sub(args)
            if key == "Fn::Join":
                delimiter, items = args
                assert isinstance(delimiter, str), "Fn::Join's delimiter must be a literal"
                resolved = self.resolve(items)
                assert isinstance(resolved, list), resolved
                return delimiter.join(str(v) for v in resolved)
            if key == "Fn::Split":
                delimiter, text = args
                return str(self.resolve(text)).split(delimiter)
            if key == "Fn::Select":
                index, items = args
                selected = self.resolve(items)
                assert isinstance(selected, list), selected
                return selected[int(index)]
            if key == "Fn::GetAtt":
                target = args if isinstance(args, str) else ".".join(args)
                return f"<{target}>"
            assert not key.startswith("Fn::"), f"{key} is not rendered by this helper"
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.params:
            return self.params[name]
        assert name in self.names, f"Ref to unknown {name}"
        return f"<{name}>"

    def _sub(self, args: Any) -> str:
        text, variables = (args, {}) if isinstance(args, str) else (args[0], args[1])
        assert isinstance(text, str), "Fn::Sub's string must be a literal"
        values = {k: self.resolve(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return str(values[name])
            if "." in name and name.split(".")[0] in self.names:
                return f"<{name}>"
            return str(self._ref(name))

        return _SUB_VAR.sub(replace, text)
