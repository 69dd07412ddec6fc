"""The functions' network: VPC configuration and the database port rules between security groups."""

from __future__ import annotations

from typing import Any

from tests.unit.template.cfn_render import Rendered
from tests.unit.template.helpers import REQUIRED, SCENARIOS, _props


def test_functions_run_in_the_vpc_with_tracing(template: dict[str, Any], resources: dict[str, Any]) -> None:
    globals_ = template.get("Globals", {}).get("Function", {})
    for name in ("RotationFunction", "ConsumerFunction"):
        props = {**globals_, **_props(resources, name)}
        assert props["Tracing"] == "Active", name
        assert props["VpcConfig"]["SubnetIds"] == {"Ref": "SubnetIds"}, name
        assert props["VpcConfig"]["SecurityGroupIds"] == {"Ref": "SecurityGroupIds"}, name


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
