"""A fleet's secret that cannot be inspected is an ``unchecked`` entry; the others are still inspected."""

from __future__ import annotations

from typing import Any

from bluegreen_ops.cli.render import Output
from bluegreen_ops.operations.env import Env
from bluegreen_ops.operations.fleet import FleetMember, FleetSelector
from bluegreen_ops.status.fleet import inspect_fleet
from bluegreen_ops.status.render import to_fleet_document, to_fleet_table
from bluegreen_rotation.config import Settings
from tests.unit.ops.fakes import error

DENIED = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/denied-AbCdEf"
GONE = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/gone-AbCdEf"


class Unreadable:
    """DescribeSecret refused for one secret, not found for another: what IAM and a deletion look like."""

    def __init__(self) -> None:
        self.described: list[str] = []

    def describe_secret(self, SecretId: str) -> dict[str, Any]:  # noqa: N803 - boto3's spelling
        self.described.append(SecretId)
        if SecretId == DENIED:
            raise error("AccessDeniedException", "DescribeSecret")
        raise error("ResourceNotFoundException", "DescribeSecret")


def test_secrets_that_cannot_be_read_are_unchecked_and_never_stop_the_list() -> None:
    sm = Unreadable()
    env = Env(secret_id="", out=Output(), settings=Settings(), sm=sm, ssm=None)  # type: ignore[arg-type]
    members = [FleetMember(DENIED, "app/denied", None), FleetMember(GONE, "app/gone", None)]
    seen: list[tuple[int, int, str]] = []
    fleet = inspect_fleet(
        env,
        FleetSelector(tag=("bluegreen-rotation", "prod")),
        members,
        progress=lambda i, n, m: seen.append((i, n, m.name)),
    )
    assert sm.described == [DENIED, GONE]
    assert seen == [(1, 2, "app/denied"), (2, 2, "app/gone")]
    assert fleet.exit_code == 1
    doc = to_fleet_document(fleet)
    assert doc["exitStatus"] == 1 and doc["summary"] == {"consistent": 0, "inconsistent": 0, "unchecked": 2}
    denied, gone = doc["secrets"]
    assert denied["severity"] == "unchecked" and denied["report"] is None and denied["exitStatus"] == 1
    assert "DescribeSecret failed: AccessDeniedException" in denied["error"]
    assert denied["verdict"].startswith("unchecked: cannot inspect the secret: DescribeSecret failed")
    assert denied["fix"] == f"check this shell's access to it: `bluegreen status --secret-id {DENIED}`"
    assert "not found" in gone["error"]
    table = to_fleet_table(fleet)
    assert table[0].split() == ["SECRET", "COLOR", "VERDICT", "FIX"]
    assert table[1].startswith("app/denied  -      unchecked: cannot inspect the secret")
    assert (
        table[-1] == "2 secret(s) tagged bluegreen-rotation=prod: 0 consistent, 0 inconsistent, 2 unchecked"
    )
