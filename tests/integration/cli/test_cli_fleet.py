"""`bluegreen status --all`: one function's fleet, listed by tag and by rotation function, in one document.

The moto server is shared by the whole session, so each test's fleet has its own tag value and its
own rotation function ARN: the listing must find exactly this test's secrets among everyone's.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from app import lambda_handler
from bluegreen_ops.devstack.app_database import AppDatabase
from bluegreen_ops.devstack.secrets_manager_driver import RotationDriver
from bluegreen_ops.devstack.seeding import seed_application

from .conftest import assert_no_password

FLEET_SIZE = 10
ROTATED = (0, 3, 7)


def seed_fleet(stack: Any, size: int) -> tuple[str, str, list[AppDatabase]]:
    """``size`` adopted secrets tagged for this test, each with its own parameterPrefix, all attached
    to this test's function: a few rotated, the others configured to rotate later (testSecret only)."""
    tag = f"fleet-t{stack.n}"
    function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{tag}-rotation"
    apps = []
    for i in range(size):
        app = seed_application(
            stack.db,
            stack.secretsmanager,
            name=f"{tag}/s{i}",
            username=f"f{stack.n}s{i}",
            dbname=f"f{stack.n}db{i}",
            extra_secret={"parameterPrefix": f"/db/{tag}/s{i}"},
        )
        stack.secretsmanager.tag_resource(
            SecretId=app.secret_arn, Tags=[{"Key": "bluegreen-rotation", "Value": tag}]
        )
        apps.append(app)
    return tag, function_arn, apps


def adopt_and_attach(cli: Any, stack: Any, function_arn: str, apps: list[AppDatabase]) -> None:
    driver = RotationDriver(
        stack.secretsmanager, lambda_handler, max_attempts=1, rotation_lambda_arn=function_arn
    )
    for i, app in enumerate(apps):
        cli("adopt", "--secret-id", app.secret_arn, secret=False)
        if i in ROTATED:
            driver.rotate(app.secret_arn)
        else:
            driver.test_configuration(app.secret_arn)


def fleet_json(cli: Any, stack: Any, apps: list[AppDatabase], *args: str, expect: int) -> dict[str, Any]:
    result = cli("status", "--all", *args, "--output", "json", expect=expect, secret=False)
    for app in apps:
        assert_no_password(
            SimpleNamespace(db=stack.db, secretsmanager=stack.secretsmanager, app=app), result.output
        )
    for app in apps:
        name = app.secret_arn.split(":")[-1].rsplit("-", 1)[0]  # moto's ARN: <name>-<6 characters>
        assert f"] {name}\n" in result.stderr  # a progress line per secret
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_status_all_reports_every_secret_of_the_tag_in_one_document(cli, stack):
    tag, function_arn, apps = seed_fleet(stack, FLEET_SIZE)
    adopt_and_attach(cli, stack, function_arn, apps)

    doc = fleet_json(cli, stack, apps, "--tag", f"bluegreen-rotation={tag}", expect=0)
    assert doc["count"] == FLEET_SIZE and doc["exitStatus"] == 0 and doc["consistent"] is True
    assert doc["summary"] == {"consistent": FLEET_SIZE, "inconsistent": 0, "unchecked": 0}
    by_arn = {s["arn"]: s for s in doc["secrets"]}
    assert set(by_arn) == {a.secret_arn for a in apps}
    for i, app in enumerate(apps):
        entry = by_arn[app.secret_arn]
        assert entry["parameterPrefix"] == f"/db/{tag}/s{i}"
        assert entry["verdict"] == "consistent" and entry["fix"] is None and entry["exitStatus"] == 0
        assert entry["color"] == ("green" if i in ROTATED else "blue")
        assert entry["rotationLambdaArn"] == function_arn
        report = entry["report"]
        assert report["parameterPrefix"] == f"/db/{tag}/s{i}"
        assert report["flag"]["name"] == f"/db/{tag}/s{i}/blue-green-env"
        assert report["flag"]["value"] == entry["color"]

    by_function = fleet_json(cli, stack, apps, "--function", function_arn, expect=0)
    assert {s["arn"] for s in by_function["secrets"]} == set(by_arn)
    by_name = fleet_json(cli, stack, apps, "--function", function_arn.rsplit(":", 1)[-1], expect=0)
    assert {s["arn"] for s in by_name["secrets"]} == set(by_arn)

    table = cli("status", "--all", "--tag", tag, secret=False).stdout
    assert table.splitlines()[0].split() == ["SECRET", "COLOR", "VERDICT", "FIX"]
    assert f"{FLEET_SIZE} secret(s) tagged bluegreen-rotation={tag}: {FLEET_SIZE} consistent" in table


def test_status_all_exit_status_is_the_worst_verdict(cli, stack):
    tag, function_arn, apps = seed_fleet(stack, 3)
    adopt_and_attach(cli, stack, function_arn, apps[:2])  # the third is never adopted
    flipped = apps[1]
    stack.ssm.put_parameter(Name=f"/db/{tag}/s1/blue-green-env", Value="green", Type="String", Overwrite=True)

    doc = fleet_json(cli, stack, apps, "--tag", f"bluegreen-rotation={tag}", expect=3)
    assert doc["exitStatus"] == 3 and doc["consistent"] is False
    by_arn = {s["arn"]: s for s in doc["secrets"]}
    assert by_arn[apps[0].secret_arn]["verdict"] == "consistent"
    assert by_arn[flipped.secret_arn]["exitStatus"] == 3
    assert by_arn[flipped.secret_arn]["fix"] == by_arn[flipped.secret_arn]["report"]["fix"]
    never = by_arn[apps[2].secret_arn]
    assert never["exitStatus"] == 3 and "never adopted" in never["verdict"]
    assert "bluegreen adopt --secret-id" in never["fix"]
    # the function's listing holds the two attached secrets only
    attached = fleet_json(cli, stack, apps[:2], "--function", function_arn, expect=3)
    assert {s["arn"] for s in attached["secrets"]} == {apps[0].secret_arn, flipped.secret_arn}


def test_status_all_usage_and_an_empty_fleet(cli, stack):
    assert "--tag KEY=VALUE or --function" in cli("status", "--all", expect=2, secret=False).output
    both = cli("status", "--all", "--tag", "x=y", "--secret-id", stack.app.secret_arn, expect=2, secret=False)
    assert "drop --secret-id" in both.output
    assert "go with --all" in cli("status", "--tag", "x=y", expect=2).output
    empty = cli("status", "--all", "--tag", f"nobody-t{stack.n}", "--output", "json", expect=1, secret=False)
    error = json.loads(empty.stdout)["error"]
    assert error["code"] == "not-found"
    assert f"bluegreen-rotation=nobody-t{stack.n}" in error["message"]
