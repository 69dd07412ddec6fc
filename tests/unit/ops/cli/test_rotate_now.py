"""rotate-now against AWS: the polling logic and the command, with plain fake clients (moto never runs
a rotation function, so these are the only tests of the non-local path)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from bluegreen_ops.cli import main
from bluegreen_ops.cli import options as cli_options
from bluegreen_ops.cli.render import Output
from bluegreen_ops.operations import guard_settings
from bluegreen_ops.operations.env import Env
from bluegreen_ops.operations.watcher import RotationWatcher
from bluegreen_rotation.config import Settings
from tests.unit.ops.fakes import (
    ARN,
    BLUE,
    BLUE_PASSWORD,
    BLUE_URLS,
    FLAG,
    GREEN,
    GREEN_PASSWORD,
    GREEN_URLS,
    NEW,
    OLD,
    FakeClock,
    FakeSecretsManager,
    FakeSSM,
    World,
    error,
    rotation_timeline,
)


def watcher(
    world: World, clock: FakeClock, timeout: float = 60, interval: float = 5
) -> tuple[RotationWatcher, list[str]]:
    env = Env(
        secret_id=ARN,
        out=Output(),
        settings=Settings(),
        sm=FakeSecretsManager(world),  # type: ignore[arg-type]
        ssm=FakeSSM(world),  # type: ignore[arg-type]
    )
    lines: list[str] = []
    w = RotationWatcher(
        env, NEW, timeout=timeout, interval=interval, report=lines.append, clock=clock, sleep=clock.sleep
    )
    return w, lines


def test_follows_a_rotation_step_by_step_until_awscurrent_and_the_flag_agree():
    clock = FakeClock()
    w, lines = watcher(World(rotation_timeline()), clock)
    result = w.watch()
    assert result.finished
    assert (result.color, result.user, result.token) == ("green", "app_green", NEW)
    assert result.milestones == [
        "createSecret: AWSPENDING holds a new password for app_green (green)",
        "finishSecret: green's URLs written",
        "finishSecret: flag -> green",
        f"finishSecret: AWSCURRENT -> {NEW}",
    ]
    assert [line.split("] ", 1)[1] for line in lines] == result.milestones
    assert clock.sleeps == [5, 5, 5, 5]  # one poll per tick, at the interval
    assert result.seconds == 20
    assert "finished: AWSCURRENT is app_green (green) and the flag is green" in result.message


def test_waits_for_the_flag_when_awscurrent_moved_first():
    timeline = rotation_timeline()
    promoted_no_flag = {**timeline[4], "params": {FLAG: "blue", **BLUE_URLS, **GREEN_URLS}}
    timeline = [timeline[0], promoted_no_flag, promoted_no_flag, timeline[4]]
    clock = FakeClock()
    result = watcher(World(timeline), clock)[0].watch()
    assert result.finished
    assert result.milestones[-1] == "finishSecret: flag -> green"


def test_times_out_with_where_it_stopped_and_where_to_look():
    timeline = rotation_timeline()[:2]  # createSecret ran, then nothing (setSecret keeps failing)
    clock = FakeClock()
    w, lines = watcher(World(timeline), clock, timeout=95, interval=10)
    result = w.watch()
    assert not result.finished
    assert result.seconds == 95
    assert "did not finish within 1m 35s" in result.message
    assert "waiting for setSecret/testSecret, then finishSecret" in result.message
    assert (
        '`aws logs tail "$(aws lambda get-function-configuration --function-name bluegreen-rotation'
        ' --query LoggingConfig.LogGroup --output text)" --since 30m`' in result.message
    )
    still = [line for line in lines if "still waiting" in line]
    assert len(still) == 3  # every 30 seconds
    assert sum(clock.sleeps) == 95  # the last sleep stops at the deadline


def test_a_version_that_loses_awspending_was_abandoned():
    timeline = [
        *rotation_timeline()[:2],
        {"stages": {OLD: ["AWSCURRENT"], NEW: []}, "values": {OLD: BLUE, NEW: GREEN}},
    ]
    result = watcher(World(timeline), FakeClock())[0].watch()
    assert not result.finished
    assert "was abandoned" in result.message and f"AWSCURRENT is {OLD}" in result.message


def test_a_version_not_visible_yet_is_waited_for():
    timeline = [{"stages": {OLD: ["AWSCURRENT"]}, "values": {OLD: BLUE}}, *rotation_timeline()]
    assert watcher(World(timeline), FakeClock())[0].watch().finished


def test_flag_that_never_follows_times_out_naming_it():
    promoted = {**rotation_timeline()[4], "params": {FLAG: "blue", **BLUE_URLS, **GREEN_URLS}}
    result = watcher(World([promoted]), FakeClock(), timeout=20)[0].watch()
    assert not result.finished
    assert "AWSCURRENT moved; the flag is blue, not green" in result.message


# -- the command, with the fakes in place of boto3 ------------------------------------------------------


@pytest.fixture
def world(monkeypatch):
    world = World(rotation_timeline())
    monkeypatch.setattr(
        cli_options, "make_clients", lambda region, profile: (FakeSecretsManager(world), FakeSSM(world))
    )
    monkeypatch.setenv("ROTATION_GRACE_SECONDS", "900")
    monkeypatch.delenv("PARAMETER_PREFIX", raising=False)
    world.function_variables = None  # GetFunctionConfiguration denied: this shell's settings apply
    monkeypatch.setattr(
        guard_settings, "read_function_variables", lambda arn, region, profile: world.function_variables
    )
    return world


def invoke(*args: str):
    result = CliRunner().invoke(
        main, ["rotate-now", "--secret-id", ARN, "--interval", "0.1", *args], catch_exceptions=False
    )
    for password in (BLUE_PASSWORD, GREEN_PASSWORD):
        assert password not in result.output
    return result


def test_rotate_now_calls_rotatesecret_and_reports_the_end(world):
    world.timeline.insert(0, world.timeline[0] | {"stages": {OLD: ["AWSCURRENT"]}})  # before RotateSecret
    result = invoke()
    assert result.exit_code == 0, result.output
    assert world.rotate_calls == [{"SecretId": ARN, "RotateImmediately": True}]
    assert "RotateSecret accepted: rotation" in result.stderr
    assert "finishSecret: green's URLs written" in result.stderr
    assert result.stdout.startswith(f"rotation {NEW} finished")


def test_rotate_now_json_document(world):
    world.timeline.insert(0, world.timeline[0] | {"stages": {OLD: ["AWSCURRENT"]}})
    result = invoke("--output", "json", "--token", NEW)
    doc = json.loads(result.stdout)
    assert doc["finished"] is True and doc["versionId"] == NEW and doc["color"] == "green"
    assert world.rotate_calls[0]["ClientRequestToken"] == NEW


def test_rotate_now_exits_1_on_timeout(world):
    world.timeline[:] = [
        {"stages": {OLD: ["AWSCURRENT"]}, "values": {OLD: BLUE}, "params": {FLAG: "blue", **BLUE_URLS}},
        *rotation_timeline()[:2],
    ]
    result = invoke("--timeout", "1")
    assert result.exit_code == 1
    assert "did not finish within 1s" in result.stdout


def test_rotate_now_reports_a_rotatesecret_error(world):
    world.timeline[:] = [
        {"stages": {OLD: ["AWSCURRENT"]}, "values": {OLD: BLUE}, "params": {FLAG: "blue", **BLUE_URLS}}
    ]
    world.rotate_error = error("AccessDeniedException", "RotateSecret")
    result = invoke()
    assert result.exit_code == 1
    assert "error: RotateSecret failed: AccessDeniedException" in result.stderr
    assert "IAM permissions" in result.stderr


def test_rotate_now_refuses_while_another_rotation_is_unfinished(world):
    world.timeline[:] = rotation_timeline()[1:2]
    result = invoke()
    assert result.exit_code == 4
    assert f"rotation {NEW} has not finished" in result.stderr
    assert f"--remove-from-version-id {NEW}" in result.stderr
    assert world.rotate_calls == []


def test_rotate_now_refuses_inside_the_grace_period_unless_forced(world):
    world.flag_modified = datetime.now(UTC)
    world.timeline[:] = [
        {
            "stages": {OLD: ["AWSCURRENT"], "3": ["AWSPREVIOUS"]},
            "values": {OLD: GREEN, "3": BLUE},
            "params": {FLAG: "green", **BLUE_URLS, **GREEN_URLS},
        }
    ]
    result = invoke()
    assert result.exit_code == 4
    assert "the flag left blue" in result.stderr and "ROTATION_GRACE_SECONDS=900" in result.stderr
    assert world.rotate_calls == []
    forced = invoke("--force", "--timeout", "1")
    assert world.rotate_calls and forced.exit_code == 1


def test_rotate_now_without_a_rotation_function(world):
    world.rotation_lambda = None
    world.timeline[:] = [
        {"stages": {OLD: ["AWSCURRENT"]}, "values": {OLD: BLUE}, "params": {FLAG: "blue", **BLUE_URLS}}
    ]
    result = invoke()
    assert result.exit_code == 1
    assert "has no rotation function" in result.stderr and "--local" in result.stderr


def test_rotate_later_on_aws_asks_for_the_configuration_test_only(world):
    world.timeline.insert(0, world.timeline[0] | {"stages": {OLD: ["AWSCURRENT"]}})
    result = invoke("--rotate-later")
    assert result.exit_code == 0, result.output
    assert world.rotate_calls == [{"SecretId": ARN, "RotateImmediately": False}]
    assert "configuration test of" in result.stdout and "nothing rotated" in result.stdout


def test_the_pre_check_uses_the_functions_own_grace_when_it_can_read_it(world):
    world.flag_modified = datetime.now(UTC) - timedelta(seconds=120)
    world.timeline[:] = [
        {
            "stages": {OLD: ["AWSCURRENT"], "3": ["AWSPREVIOUS"]},
            "values": {OLD: GREEN, "3": BLUE},
            "params": {FLAG: "green", **BLUE_URLS, **GREEN_URLS},
        }
    ]
    refused = invoke()  # this shell: 900 s
    assert (
        refused.exit_code == 4
        and "ROTATION_GRACE_SECONDS=900, ACTIVE_SESSION_POLICY=fail (from this shell)" in (refused.stderr)
    )
    world.function_variables = {"ROTATION_GRACE_SECONDS": "60", "LOG_LEVEL": "INFO"}
    started = invoke("--timeout", "1")  # the function: 60 s, and the flag moved 120 s ago
    assert world.rotate_calls and started.exit_code == 1  # RotateSecret called; the fake never finishes
    world.rotate_calls.clear()
    world.function_variables = {"ROTATION_GRACE_SECONDS": "3600"}
    strict = invoke()
    assert strict.exit_code == 4 and "(from the function)" in strict.stderr and "--force" not in strict.stderr
    forced = invoke("--force")  # the forecast is the function's own: forcing would only leave AWSPENDING
    assert forced.exit_code == 4 and "nothing was staged" in forced.stderr
    assert world.rotate_calls == []
