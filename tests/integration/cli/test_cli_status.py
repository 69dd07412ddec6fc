"""`bluegreen status` on real states: never adopted, adopted, rotated, and broken on purpose."""

from __future__ import annotations

import pytest

from app import lambda_handler
from bluegreen_ops.devstack.secrets_manager_driver import RotationDriver
from tests.helpers import stages


def rotate(stack):
    return RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1).rotate(stack.app.secret_arn)


def test_status_of_a_secret_never_adopted_says_adopt(cli):
    result = cli("status", expect=3)
    assert "Verdict   " in result.stdout
    assert "never adopted" in result.stdout
    assert "bluegreen adopt --secret-id" in result.stdout


def test_status_before_and_after_a_rotation(cli, stack):
    cli("adopt")
    before = cli.json("status")
    assert before["consistent"] is True and before["verdict"] == "consistent"
    assert [(v["stages"], v["user"], v["color"], v["logsIn"]) for v in before["secret"]["versions"]] == [
        (["AWSCURRENT"], stack.app.username, "blue", "yes")
    ]
    assert before["flag"]["value"] == "blue"
    assert {(u["color"], u["role"]): u["state"] for u in before["urls"]} == {
        ("blue", "writer"): "ok",
        ("blue", "reader"): "ok",
        ("green", "writer"): "missing",
        ("green", "reader"): "missing",
    }
    assert "green has no URLs yet: the first rotation writes them" in before["notes"]

    token = rotate(stack)
    table = cli("status").stdout
    assert "Verdict   consistent" in table
    assert f"{token}  AWSCURRENT" in table
    assert "AWSPREVIOUS" in table
    assert "mysql+pymysql://" in table and ":***@" in table
    after = cli.json("status")
    green = f"{stack.app.username}_green"
    assert after["consistent"] is True
    versions = {v["versionId"]: v for v in after["secret"]["versions"]}
    assert versions[token]["stages"] == ["AWSCURRENT"] and versions[token]["user"] == green
    previous = next(v for v in after["secret"]["versions"] if v["stages"] == ["AWSPREVIOUS"])
    assert (previous["user"], previous["color"], previous["logsIn"]) == (stack.app.username, "blue", "yes")
    assert after["flag"]["value"] == "green" and after["flag"]["version"] == 2
    assert after["flag"]["secondsSinceFlip"] is not None
    for url in after["urls"]:
        assert url["state"] == "ok" and url["matchesColorUser"] is True
        assert url["url"].startswith(f"mysql+pymysql://{url['expectedUser']}:***@")
    assert after["sessions"]["byUser"] == {stack.app.username: 0, green: 0}
    assert after["grace"]["nextRotation"].startswith("allowed")


def test_status_counts_live_sessions_and_the_guard_they_trigger(cli, stack, previous_session):
    cli("adopt")
    rotate(stack)
    with previous_session(stack):
        report = cli.json("status")
    assert report["sessions"]["byUser"][stack.app.username] == 1
    assert (
        report["consistent"] is True
    )  # live sessions are a note for the next rotation, not an inconsistency
    assert "1 live session(s)" in report["grace"]["nextRotation"]


def test_status_flags_a_flag_flipped_by_hand_and_adopt_force_fixes_it(cli, stack):
    cli("adopt")
    rotate(stack)
    stack.ssm.put_parameter(
        Name=f"{stack.prefix}/blue-green-env", Value="blue", Type="String", Overwrite=True
    )
    result = cli("status", expect=3)
    verdict = next(line for line in result.stdout.splitlines() if line.startswith("Verdict"))
    assert "the flag names blue" in verdict and "AWSCURRENT is green" in verdict
    assert "bluegreen adopt --force" in verdict and "bluegreen rollback --force" in verdict
    report = cli.json("status", expect=3)
    assert report["consistent"] is False and report["problems"][0]["kind"] == "inconsistent"

    refused = cli("adopt", expect=4)
    assert "re-run with --force" in refused.stderr
    cli("adopt", "--force")
    assert cli.json("status")["consistent"] is True


def test_status_names_the_command_that_clears_a_stuck_pending(cli, stack):
    cli("adopt")
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(stack.app.secret_arn)
    driver.run_steps(stack.app.secret_arn, token, steps=("createSecret",))
    result = cli("status", expect=3)
    assert f"rotation {token} for {stack.app.username}_green (green) has not finished" in result.stdout
    assert (
        f"aws secretsmanager update-secret-version-stage --secret-id {stack.app.secret_arn} "
        f"--version-stage AWSPENDING --remove-from-version-id {token}"
    ) in result.stdout
    assert f"--token {token}" in result.stdout
    assert "blocked until the unfinished rotation completes" in result.stdout
    assert stages(stack)[token] == ["AWSPENDING"]  # status changed nothing


def test_status_says_when_awscurrent_no_longer_logs_in(cli, stack):
    cli("adopt")
    stack.db.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (stack.app.username, "changed-by-hand-Passw0rd"))
    report = cli.json("status", expect=3)
    assert report["secret"]["versions"][0]["logsIn"] == "no"
    assert report["severity"] == "outage" and "does not log in" in report["verdict"]
    assert "bluegreen repair" in report["fix"]  # no AWSPREVIOUS to roll back to
    assert cli.json("repair")["passwordsReset"] == [{"user": stack.app.username, "stage": "AWSCURRENT"}]
    assert cli.json("status")["consistent"] is True


def test_status_reports_a_master_user_denied_access(make_stack, make_cli):
    stack = make_stack(master_extra={"password": "not-the-admin-password"})
    cli = make_cli(stack)
    cli("adopt")
    report = cli.json("status", expect=1)
    assert report["problems"][0]["kind"] == "error"
    assert "master user 'admin'" in report["verdict"] and "denied access" in report["verdict"]
    assert "Access denied for the master user" in report["problems"][0]["fix"]


def test_status_reports_tls_failures_and_skip_db_skips_the_database(cli, stack, monkeypatch):
    cli("adopt")
    monkeypatch.setenv("DB_TLS_MODE", "verify-full")  # the local MariaDB serves no TLS
    report = cli.json("status", expect=1)
    assert "database check failed" in report["verdict"] and "DB_TLS_MODE" in report["verdict"]
    skipped = cli.json("status", "--skip-db")
    assert skipped["consistent"] is True and skipped["sessions"] is None


def test_usage_and_lookup_errors_have_their_exit_codes(cli):
    assert "Missing option '--secret-id'" in cli("status", expect=2, secret=False).output
    assert "'yaml' is not one of" in cli("status", "--output", "yaml", expect=2).output
    missing = cli("status", "--secret-id", "no/such/secret", expect=1, secret=False)
    assert "error: secret 'no/such/secret' not found" in missing.stderr


def test_a_bad_environment_is_named(cli, monkeypatch):
    monkeypatch.setenv("DB_TLS_MODE", "sometimes")
    assert "DB_TLS_MODE must be one of" in cli("status", expect=2).stderr


def test_status_recognises_a_finishsecret_that_stopped_after_the_flag(cli, stack):
    from bluegreen_rotation.secrets_store import SecretStore

    cli("adopt")
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(stack.app.secret_arn)
    driver.run_steps(stack.app.secret_arn, token, steps=("createSecret", "setSecret", "testSecret"))

    def crash(*args, **kwargs):
        raise RuntimeError("the function died before moving AWSCURRENT")

    with pytest.MonkeyPatch.context() as patch, pytest.raises(RuntimeError):
        patch.setattr(SecretStore, "promote", crash)
        driver.run_steps(stack.app.secret_arn, token, steps=("finishSecret",))
    report = cli.json("status", expect=3)
    assert len(report["problems"]) == 1 and report["severity"] == "blocked"
    flag_problem = report["problems"][0]
    assert f"rotation {token} stopped after writing green's URLs and the flag" in flag_problem["message"]
    assert "pending password, which logs in" in flag_problem["message"]
    assert f"bluegreen rotate-now --local --secret-id {stack.app.secret_arn} --token {token}" in report["fix"]

    cli("rotate-now", "--local", "--token", token)
    assert cli.json("status")["consistent"] is True


def test_status_reports_a_grant_the_next_rotation_cannot_copy(cli, stack):
    cli("adopt")
    db = stack.app.dbname
    stack.db.execute(f"CREATE TABLE `{db}`.`old` (a INT)")
    stack.db.execute(f"GRANT SELECT ON `{db}`.`old` TO %s@'%%'", (stack.app.username,))
    stack.db.execute(f"DROP TABLE `{db}`.`old`")
    report = cli.json("status", expect=3)  # inconsistent
    assert report["consistent"] is False
    problem = next(p for p in report["problems"] if "next setSecret will refuse" in p["message"])
    assert f"GRANT SELECT ON `{db}`.`old` TO '{stack.app.username}'@'%'" in problem["message"]
    assert "the table no longer exists" in problem["message"]
    assert problem["fix"] == f"REVOKE SELECT ON `{db}`.`old` FROM '{stack.app.username}'@'%'"
