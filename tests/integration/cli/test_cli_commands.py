"""`bluegreen adopt`, `rotate-now --local` and `rollback` against the real local stack."""

from __future__ import annotations

import json

from app import lambda_handler
from bluegreen_ops.devstack.secrets_manager_driver import RotationDriver
from bluegreen_ops.operations.adopt import adopt_secret
from tests.helpers import flag, login_as, parameters, secret_value, snapshot, stages

HOSTILE = "p@ss:w/rd%41 #?&=+'\"\\"


def rotate(stack):
    return RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1).rotate(stack.app.secret_arn)


def url(stack, color, role="writer"):
    return parameters(stack)[f"{stack.prefix}/{color}/{role}-db-url"][0]


# -- adopt ----------------------------------------------------------------------------------------------


def test_adopt_twice_writes_once_then_changes_nothing(cli, stack):
    first = cli("adopt")
    assert "wrote " in first.stderr and "adopted: blue" in first.stdout
    after_first = parameters(stack)
    assert flag(stack) == "blue"
    assert login_as(url(stack, "blue")) == stack.app.username
    assert login_as(url(stack, "blue", "reader")) == stack.app.username

    second = cli.json("adopt")
    assert second == {
        "ok": True,
        "exitStatus": 0,
        "color": "blue",
        "user": stack.app.username,
        "parameterPrefix": stack.prefix,
        "dryRun": False,
        "changed": False,
        "changes": [],
    }
    assert parameters(stack) == after_first  # same values and same parameter versions
    assert "already adopted" in cli("adopt").stdout


def test_adopt_dry_run_writes_nothing(cli, stack):
    result = cli("adopt", "--dry-run")
    assert "would change" in result.stdout
    assert parameters(stack) == {}


def test_adopt_refuses_credentials_that_do_not_log_in(cli, stack):
    stack.db.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (stack.app.username, "changed-by-hand-Passw0rd"))
    result = cli("adopt", expect=4)
    assert "AWSCURRENT's password does not log in" in result.stderr and "nothing was changed" in result.stderr
    assert parameters(stack) == {}


def test_adopt_rewrites_stale_urls_of_the_current_color(cli, stack):
    cli("adopt")
    stack.ssm.put_parameter(
        Name=f"{stack.prefix}/blue/reader-db-url",
        Value=f"mysql+pymysql://{stack.app.username}:old-Passw0rd-x@127.0.0.1:{stack.db.port}/db",
        Type="SecureString",
        Overwrite=True,
    )
    assert "stale" in cli.json("status", expect=3)["verdict"]
    changes = cli.json("adopt")["changes"]
    assert changes == [f"{stack.prefix}/blue/reader-db-url (stale)"]
    assert cli.json("status")["consistent"] is True


def test_adopt_secret_function_for_the_demo(stack):
    outcome = adopt_secret(stack.secretsmanager, stack.ssm, stack.app.secret_arn, prefix=stack.prefix)
    assert outcome.changed and flag(stack) == "blue"
    assert not adopt_secret(stack.secretsmanager, stack.ssm, stack.app.secret_arn).changed


# -- rotate-now --local ---------------------------------------------------------------------------------


def test_rotate_now_local_runs_the_four_steps_and_follows_them(cli, stack):
    cli("adopt")
    result = cli("rotate-now", "--local")
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        assert f"attempt 1  {step:<12} ok" in result.stderr
    current = secret_value(stack)
    assert current["username"] == f"{stack.app.username}_green"
    assert flag(stack) == "green"
    assert "finished: AWSCURRENT is" in result.stdout.strip().splitlines()[-1]
    assert cli.json("status")["consistent"] is True

    doc = cli.json("rotate-now", "--local")
    assert doc["finished"] is True and doc["color"] == "blue" and doc["user"] == stack.app.username
    assert stages(stack)[doc["versionId"]] == ["AWSCURRENT"]
    assert flag(stack) == "blue"


def test_rotate_now_local_refused_by_the_grace_guard(make_stack, make_cli):
    stack = make_stack(grace=3600)
    cli = make_cli(stack)
    cli("adopt")
    cli("rotate-now", "--local")  # allowed: the flag (version 1) has never named green
    before = snapshot(stack)

    refused = cli("rotate-now", "--local", expect=4)
    assert "ROTATION_GRACE_SECONDS=3600" in refused.stderr and "nothing was staged" in refused.stderr
    assert snapshot(stack) == before  # the pre-check changed nothing

    # --local runs the function here with these very settings: --force cannot make it accept
    forced = cli("rotate-now", "--local", "--force", expect=4)
    assert "setSecret would refuse" in forced.stderr and "createSecret" not in forced.stderr
    assert snapshot(stack) == before
    assert cli.json("status")["consistent"] is True


def test_rotate_now_local_resumes_an_unfinished_rotation_with_its_token(cli, stack):
    cli("adopt")
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(stack.app.secret_arn)
    driver.run_steps(stack.app.secret_arn, token, steps=("createSecret", "setSecret"))
    assert "has not finished" in cli("rotate-now", "--local", expect=4).stderr
    doc = cli.json("rotate-now", "--local", "--token", token)
    assert doc["finished"] is True and doc["versionId"] == token
    assert cli.json("status")["consistent"] is True


def test_rotate_now_local_rotate_later_runs_only_the_configuration_test(cli, stack):
    cli("adopt")
    for _ in range(2):  # on the freshly adopted secret, then after a rotation
        before = {k: v for k, v in snapshot(stack).items() if k != "secret"}
        current = stages(stack)
        result = cli("rotate-now", "--local", "--rotate-later")
        assert "configuration test of" in result.stdout and "nothing rotated" in result.stdout
        assert {k: v for k, v in snapshot(stack).items() if k != "secret"} == before
        assert {v: s for v, s in stages(stack).items() if s} == {v: s for v, s in current.items() if s}
        cli("rotate-now", "--local")


# -- rollback -------------------------------------------------------------------------------------------


def test_rollback_after_a_rotation_moves_awscurrent_and_the_flag_back(cli, stack):
    cli("adopt")
    original = stack.secretsmanager.describe_secret(SecretId=stack.app.secret_arn)["VersionIdsToStages"]
    original_version = next(v for v, s in original.items() if "AWSCURRENT" in s)
    token = rotate(stack)
    green = f"{stack.app.username}_green"

    result = cli("rollback")
    assert "rolled back: AWSCURRENT and the flag are blue" in result.stdout
    lines = result.stderr.splitlines()
    moved = next(i for i, line in enumerate(lines) if line.startswith("moved AWSCURRENT"))
    flipped = next(i for i, line in enumerate(lines) if "blue-green-env = blue" in line)
    assert moved < flipped  # AWSCURRENT first, the flag last

    assert stages(stack) == {original_version: ["AWSCURRENT", "BLUEGREEN_ROLLBACK"], token: ["AWSPREVIOUS"]}
    assert secret_value(stack)["username"] == stack.app.username
    assert flag(stack) == "blue"
    for role in ("writer", "reader"):
        assert login_as(url(stack, "blue", role)) == stack.app.username
        assert login_as(url(stack, "green", role)) == green
    assert cli.json("status")["consistent"] is True

    # and a rotation after the rollback gives green (the color just left) a new password, as usual
    rotate(stack)
    assert flag(stack) == "green" and secret_value(stack)["username"] == green


def test_rollback_refuses_when_the_previous_user_no_longer_logs_in(cli, stack):
    cli("adopt")
    rotate(stack)
    stack.db.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (stack.app.username, "changed-by-hand-Passw0rd"))
    before = snapshot(stack)
    result = cli("rollback", expect=4)
    assert "AWSPREVIOUS's password does not log in" in result.stderr
    assert snapshot(stack) == before


def test_rollback_refuses_without_a_previous_color(cli, stack):
    cli("adopt")
    assert "no AWSPREVIOUS version" in cli("rollback", expect=4).stderr


def test_rollback_refuses_a_disagreeing_flag_without_force(cli, stack):
    cli("adopt")
    rotate(stack)
    stack.ssm.put_parameter(
        Name=f"{stack.prefix}/blue-green-env", Value="blue", Type="String", Overwrite=True
    )
    assert "re-run with --force" in cli("rollback", expect=4).stderr
    doc = cli.json("rollback", "--force")
    assert doc["to"]["color"] == "blue" and doc["changed"] is True
    assert not any("blue-green-env" in change for change in doc["changes"])  # the flag already said blue
    assert cli.json("status")["consistent"] is True


def test_rollback_dry_run_changes_nothing(cli, stack):
    cli("adopt")
    rotate(stack)
    before = snapshot(stack)
    result = cli("rollback", "--dry-run")
    assert "would change AWSCURRENT" in result.stdout
    assert snapshot(stack) == before


# -- no password in any output ----------------------------------------------------------------------------


def test_no_password_in_any_output_even_a_hostile_one(make_stack, make_cli):
    stack = make_stack(password=HOSTILE)
    cli = make_cli(stack)  # every invocation asserts that no stored password appears in its output
    outputs = [
        cli("status", expect=3),
        cli("adopt"),
        cli("status"),
        cli("rotate-now", "--local", "--verbose"),
        cli("status", "--output", "json"),
        cli("rollback", "--dry-run"),
        cli("rollback", "--output", "json"),
        cli("status"),
    ]
    assert all(o.exit_code == 0 for o in outputs[1:])
    assert login_as(url(stack, "blue")) == stack.app.username  # the hostile password round-trips
    for form in (HOSTILE, json.dumps(HOSTILE)[1:-1]):
        assert all(form not in o.output for o in outputs)
