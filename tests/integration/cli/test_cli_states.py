"""The operator CLI in each state a secret, its mirror and its users can be in, on the real stack: verdict,
exit code and JSON document.

Every command runs with ``--output json`` at least once: stdout must then be exactly one JSON
document (``json.loads`` of the whole of it), whatever the outcome.
"""

from __future__ import annotations

import json
import re
from contextlib import AbstractContextManager, nullcontext

import pytest

from app import lambda_handler
from bluegreen_ops.devstack.network import free_port
from bluegreen_ops.devstack.secrets_manager_driver import RotationDriver, RotationFailedError
from bluegreen_rotation.errors import RotationRefusedError
from tests.helpers import flag, login_as, parameters, snapshot, stages

HAND_PASSWORD = "changed-by-hand-Passw0rd"


def rotate(stack):
    return RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1).rotate(stack.app.secret_arn)


def url(stack, color, role="writer"):
    return parameters(stack)[f"{stack.prefix}/{color}/{role}-db-url"][0]


def error_doc(result, exit_status, code):
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and doc["exitStatus"] == exit_status == result.exit_code
    assert doc["error"]["code"] == code and doc["error"]["message"]
    assert doc["error"]["message"] in result.stderr  # the same message for a human, on stderr
    return doc


# -- 1: JSON on every outcome, one test per exit code ------------------------------------------------


def test_json_exit_0_result_documents(cli):
    assert cli.json("adopt")["exitStatus"] == 0
    assert cli.json("status")["exitStatus"] == 0
    assert cli.json("repair")["changed"] is False
    doc = cli.json("rotate-now", "--local")
    assert doc["ok"] is True and doc["exitStatus"] == 0 and doc["staged"] is None


def test_json_exit_1_missing_secret_malformed_secret_unreachable_endpoint(cli, stack, monkeypatch):
    missing = cli("status", "--output", "json", "--secret-id", "no/such/secret", expect=1, secret=False)
    assert "not found" in error_doc(missing, 1, "not-found")["error"]["message"]

    stack.secretsmanager.put_secret_value(SecretId=stack.app.secret_arn, SecretString='{"engine": ')
    malformed = cli("adopt", "--output", "json", expect=1)
    assert "is not valid JSON" in error_doc(malformed, 1, "failed")["error"]["message"]

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    for command in ("status", "adopt", "rollback", "repair", "rotate-now"):
        unreachable = cli(command, "--output", "json", expect=1)
        assert "cannot reach the AWS endpoint" in error_doc(unreachable, 1, "unreachable")["error"]["message"]


def test_json_exit_2_usage_errors_and_a_bad_environment(cli, monkeypatch):
    no_secret = cli("status", "--output", "json", expect=2, secret=False)
    assert "Missing option '--secret-id'" in error_doc(no_secret, 2, "usage")["error"]["message"]
    unknown = cli("rollback", "--output=json", "--frobnicate", expect=2)
    assert "No such option" in error_doc(unknown, 2, "usage")["error"]["message"]

    monkeypatch.setenv("DB_TLS_MODE", "bogus")
    bad_env = cli("status", "--output", "json", expect=2)
    assert "DB_TLS_MODE must be one of" in error_doc(bad_env, 2, "usage")["error"]["message"]
    assert "DB_TLS_MODE must be one of" in cli("status", expect=2).stderr  # table mode: same code


def test_json_exit_3_an_inconsistent_status_is_a_result_document(cli):
    doc = cli.json("status", expect=3)  # never adopted
    assert doc["exitStatus"] == 3 and doc["consistent"] is False and doc["severity"] == "cosmetic"
    assert doc["fix"].startswith("`bluegreen adopt")


def test_json_exit_4_refusals_say_nothing_is_staged(make_stack, make_cli):
    stack = make_stack(grace=3600)
    cli = make_cli(stack)
    cli("adopt")
    cli("rotate-now", "--local")
    refused = cli("rotate-now", "--local", "--output", "json", expect=4)
    doc = error_doc(refused, 4, "refused")
    assert doc["error"]["staged"] is None and "nothing was staged" in doc["error"]["message"]
    assert "ROTATION_GRACE_SECONDS=3600" in doc["error"]["message"]


# -- 2: rotate-now refuses before RotateSecret whatever setSecret would refuse ----------------------------


def test_rotate_now_refuses_live_sessions_before_rotatesecret_and_stages_nothing(
    cli, stack, previous_session
):
    cli("adopt")
    rotate(stack)  # green is AWSCURRENT: the next rotation changes blue's password
    with previous_session(stack):
        before = snapshot(stack)
        assert "1 live session" in cli.json("status")["grace"]["nextRotation"]
        for extra in ((), ("--force",)):
            refused = cli("rotate-now", "--local", "--output", "json", *extra, expect=4)
            doc = error_doc(refused, 4, "refused")
            assert "1 live session(s)" in doc["error"]["message"] and doc["error"]["staged"] is None
            assert "createSecret" not in refused.stderr  # no step ran
        assert snapshot(stack) == before  # no placeholder version, nothing written
    assert cli.json("rotate-now", "--local")["finished"] is True  # once they drained


def test_rotate_now_force_past_grace_stages_nothing(make_stack, make_cli):
    stack = make_stack(grace=3600)
    cli = make_cli(stack)
    cli("adopt")
    cli("rotate-now", "--local")
    before = snapshot(stack)
    forced = cli("rotate-now", "--local", "--force", "--output", "json", expect=4)
    assert "less than ROTATION_GRACE_SECONDS=3600" in error_doc(forced, 4, "refused")["error"]["message"]
    assert snapshot(stack) == before
    assert cli.json("status")["consistent"] is True  # no AWSPENDING left behind


def test_the_aws_path_pre_check_refuses_before_rotatesecret(cli, stack, previous_session):
    """Without --local the same pre-check runs before RotateSecret (here called directly: against
    moto the command itself is refused earlier, see state 7)."""
    from bluegreen_ops.cli.render import Output
    from bluegreen_ops.operations import rotate_now
    from bluegreen_ops.operations.env import Env
    from bluegreen_ops.operations.errors import RefusedError
    from bluegreen_ops.operations.secret_reads import describe
    from bluegreen_rotation.config import Settings

    cli("adopt")
    rotate(stack)
    with previous_session(stack):
        env = Env(
            secret_id=stack.app.secret_arn,
            out=Output(quiet=True),
            settings=Settings.from_env(),
            sm=stack.secretsmanager,
            ssm=stack.ssm,
        )
        meta = describe(env)
        with pytest.raises(RefusedError, match=r"live session.*--force starts it anyway"):
            rotate_now.preflight(env, meta, local=False, force=False)
        rotate_now.preflight(env, meta, local=False, force=True)  # the operator overrides this shell


# Each state one rotation after adoption (AWSCURRENT green, so the next rotation changes blue), grace
# 3600 s: (status's exit code, the refusal setSecret must give, None where it must go through). Written
# out here, not derived: the forecast and setSecret share the guards, so only a fixed expectation
# catches a guard that changed for both.
GRACE_REFUSAL = r"the flag left blue \d+s ago, less than ROTATION_GRACE_SECONDS=3600"
FORECASTS = {
    # rewritten to green at version 1, which never named blue: nothing left blue within the grace
    "flag-missing": (3, None),
    # rewritten to green at version 2, modified now: it counts as blue leaving it now
    "flag-garbage": (3, GRACE_REFUSAL),
    # consumers were just sent to blue: rewritten to green now, so blue left it now
    "flag-on-previous": (3, GRACE_REFUSAL),
    # the flag (version 1) names green and never named blue, but blue still has a session
    "sessions": (0, r"'\w+': it has 1 live session\(s\) \(ACTIVE_SESSION_POLICY=fail\)"),
    # the rotation just moved the flag off blue
    "in-grace": (0, GRACE_REFUSAL),
}


@pytest.mark.parametrize("state", list(FORECASTS))
def test_the_forecast_and_setsecret_give_each_state_its_outcome(
    make_stack, make_cli, previous_session, state
):
    """status's forecast (the function's guards on the facts read now) and the function's real
    setSecret, each against the outcome written down for the state."""
    status_exit, refusal = FORECASTS[state]
    stack = make_stack(grace=3600)
    cli = make_cli(stack)
    cli("adopt")
    rotate(stack)  # allowed: the flag had never moved (version 1)
    if state != "in-grace":
        # make the flag old enough that only the state under test can refuse
        stack.ssm.delete_parameter(Name=f"{stack.prefix}/blue-green-env")
    session: AbstractContextManager[None] = nullcontext()
    if state == "flag-garbage":
        stack.ssm.put_parameter(Name=f"{stack.prefix}/blue-green-env", Value="purple", Type="String")
    elif state == "flag-on-previous":
        stack.ssm.put_parameter(Name=f"{stack.prefix}/blue-green-env", Value="blue", Type="String")
    elif state == "sessions":
        stack.ssm.put_parameter(Name=f"{stack.prefix}/blue-green-env", Value="green", Type="String")
        session = previous_session(stack)
    with session:
        report = cli.json("status", expect=status_exit)
        forecast = report["grace"]
        driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
        if refusal is None:
            driver.rotate(stack.app.secret_arn)
        else:
            with pytest.raises(RotationFailedError) as failed:
                driver.rotate(stack.app.secret_arn)
    assert report["exitStatus"] == status_exit
    if refusal is None:
        assert forecast["nextRotationAllowed"] is True, forecast["nextRotation"]
        assert flag(stack) == "blue" and login_as(url(stack, "blue")) == stack.app.username
        return
    assert forecast["nextRotationAllowed"] is False, forecast["nextRotation"]
    assert re.search(f"would be refused: .*{refusal}", forecast["nextRotation"]), forecast["nextRotation"]
    assert isinstance(failed.value.last, RotationRefusedError), failed.value
    assert re.search(refusal, str(failed.value.last)), failed.value.last
    assert [r.step for r in driver.history if r.error is not None] == ["setSecret"]
    assert flag(stack) == "green"


# -- 3: finishSecret stopped after the URLs and the flag -----------------------------------------------
# tests/integration/cli/test_cli_status.py::test_status_recognises_a_finishsecret_that_stopped_after_the_flag


# -- 4: the non-current color's reader URL deleted ---------------------------------------------------


def test_a_deleted_reader_url_of_the_previous_color_is_repaired(make_stack, make_cli):
    stack = make_stack(grace=3600)
    cli = make_cli(stack)
    cli("adopt")
    rotate(stack)  # green current, blue previous (consumers may still be on blue: in grace)
    stack.ssm.delete_parameter(Name=f"{stack.prefix}/blue/reader-db-url")

    report = cli.json("status", expect=3)
    assert report["severity"] == "at-risk"
    assert "blue's URLs do not hold AWSPREVIOUS's credentials" in report["verdict"]
    assert "reader: missing" in report["verdict"]
    assert report["fix"].startswith(f"`bluegreen repair --secret-id {stack.app.secret_arn}`")
    assert "rotate-now" not in report["fix"]  # a rotation would be refused for grace

    repaired = cli.json("repair")
    assert repaired["changes"] == [f"{stack.prefix}/blue/reader-db-url (missing)"]
    assert login_as(url(stack, "blue", "reader")) == stack.app.username
    assert cli.json("status")["consistent"] is True
    assert cli.json("repair")["changed"] is False  # idempotent


# -- 5: the previous color's password changed behind the tool's back -----------------------------------


def test_a_previous_password_changed_by_hand_is_not_consistent(make_stack, make_cli):
    stack = make_stack(grace=3600)
    cli = make_cli(stack)
    cli("adopt")
    rotate(stack)
    stack.db.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (stack.app.username, HAND_PASSWORD))

    result = cli("status", expect=3)
    assert "Verdict   at-risk: AWSPREVIOUS's password does not log in" in result.stdout
    report = cli.json("status", expect=3)
    assert report["consistent"] is False and report["exitStatus"] == 3
    assert "consumers that have not moved off blue yet cannot reconnect" in report["verdict"]
    assert "bluegreen repair" in report["fix"]

    doc = cli.json("repair")
    assert doc["passwordsReset"] == [{"user": stack.app.username, "stage": "AWSPREVIOUS"}]
    assert login_as(url(stack, "blue")) == stack.app.username
    assert cli.json("status")["consistent"] is True


def test_after_the_grace_period_a_broken_previous_color_is_cosmetic(cli, stack):
    cli("adopt")
    rotate(stack)  # grace 0: nobody may be on blue any more
    stack.db.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (stack.app.username, HAND_PASSWORD))
    report = cli.json("status", expect=3)
    assert report["severity"] == "cosmetic" and "a rollback is impossible" in report["verdict"]


# -- 6: AWSCURRENT does not log in while an AWSPENDING exists --------------------------------------------


def test_an_outage_leads_even_with_an_unfinished_rotation(cli, stack):
    cli("adopt")
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(stack.app.secret_arn)
    driver.run_steps(stack.app.secret_arn, token, steps=("createSecret",))
    stack.db.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (stack.app.username, HAND_PASSWORD))

    report = cli.json("status", expect=3)
    assert [p["severity"] for p in report["problems"]] == ["outage", "blocked"]
    assert report["verdict"].startswith("outage: AWSCURRENT's password does not log in")
    assert "(+1 more)" in report["verdict"]
    assert report["fix"].startswith(f"`bluegreen repair --secret-id {stack.app.secret_arn}`")

    cli("repair")  # accepted with the rotation unfinished: it touches AWSCURRENT's color only
    assert stages(stack)[token] == ["AWSPENDING"]
    after = cli.json("status", expect=3)
    assert after["severity"] == "blocked" and f"rotation {token}" in after["verdict"]


def test_an_outage_with_a_rotation_whose_password_works_says_finish_it(cli, stack):
    cli("adopt")
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(stack.app.secret_arn)
    driver.run_steps(stack.app.secret_arn, token, steps=("createSecret", "setSecret"))
    stack.db.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (stack.app.username, HAND_PASSWORD))

    report = cli.json("status", expect=3)
    assert report["severity"] == "outage"
    assert f"rotate-now --local --secret-id {stack.app.secret_arn} --token {token}" in report["fix"]
    cli("rotate-now", "--local", "--token", token)
    assert flag(stack) == "green"
    assert login_as(url(stack, "green")) == f"{stack.app.username}_green"


# -- 7: RotateSecret against the emulator --------------------------------------------------------------


def test_rotate_now_without_local_is_refused_against_the_emulator(cli, stack):
    cli("adopt")
    cli("rotate-now", "--local")  # the driver's placeholder function ARN is now on the secret
    before = snapshot(stack)
    refused = cli("rotate-now", "--output", "json", expect=4)
    doc = error_doc(refused, 4, "refused")
    assert "is a local emulator" in doc["error"]["message"]
    assert f"bluegreen rotate-now --local --secret-id {stack.app.secret_arn}" in doc["error"]["message"]
    assert snapshot(stack) == before
    assert cli.json("status")["consistent"] is True  # one AWSCURRENT, no empty version


# -- 8: the grace line for a missing or garbage flag; SecretBinary -------------------------------------


def test_the_grace_line_says_when_the_flag_is_missing_or_garbage(cli, stack):
    missing = cli("status", expect=3).stdout
    assert "blue-green-env is missing: setSecret creates it (version 1)" in missing
    assert "has not moved since it was created" not in missing

    cli("adopt")
    stack.ssm.put_parameter(
        Name=f"{stack.prefix}/blue-green-env", Value="purple", Type="String", Overwrite=True
    )
    report = cli.json("status", expect=3)
    assert "holds 'purple', not a color: setSecret rewrites it" in report["grace"]["line"]
    assert report["severity"] == "outage" and "bluegreen adopt --force" in report["fix"]
    cli("adopt", "--force")
    assert cli.json("status")["consistent"] is True


def test_a_secretbinary_secret_is_reported_as_such(cli, stack):
    stack.secretsmanager.put_secret_value(SecretId=stack.app.secret_arn, SecretBinary=b"\x00\x01binary")
    report = cli.json("status", expect=3)
    current = report["secret"]["versions"][0]
    assert current["stages"] == ["AWSCURRENT"] and "holds a SecretBinary" in current["error"]
    assert "createSecret has not run" not in json.dumps(report)
    assert report["severity"] == "outage" and "SecretBinary" in report["verdict"]
    assert (
        "holds a SecretBinary"
        in error_doc(cli("adopt", "--output", "json", expect=1), 1, "failed")["error"]["message"]
    )


# -- rough edges -----------------------------------------------------------------------------------


def test_rollback_twice_refuses_to_undo_itself(cli, stack):
    cli("adopt")
    token = rotate(stack)
    first = cli.json("rollback")
    assert first["to"]["color"] == "blue"
    before = snapshot(stack)
    again = cli("rollback", "--output", "json", expect=4)
    assert "rolling back again would undo that rollback" in error_doc(again, 4, "refused")["error"]["message"]
    assert snapshot(stack) == before
    # moving forward clears the mark: a rollback of the next rotation is allowed again
    cli("rotate-now", "--local")
    assert cli.json("rollback")["to"]["color"] == "blue"
    assert token in stages(stack)


def test_rotate_now_local_prints_each_step_once_and_no_raw_log_lines(make_stack, make_cli):
    stack = make_stack()
    cli = make_cli(stack)
    cli("adopt")
    ok = cli("rotate-now", "--local")
    assert "createSecret: AWSPENDING holds" not in ok.stderr  # no milestone replay after the steps
    assert ok.stderr.count("finishSecret ok") == 1

    master = json.loads(stack.secretsmanager.get_secret_value(SecretId=stack.app.master_arn)["SecretString"])
    wrong = dict(master, password="not-the-admin-Passw0rd")
    stack.secretsmanager.put_secret_value(SecretId=stack.app.master_arn, SecretString=json.dumps(wrong))
    failed = cli("rotate-now", "--local", "--output", "json", expect=1)  # setSecret: access denied
    stack.secretsmanager.put_secret_value(SecretId=stack.app.master_arn, SecretString=json.dumps(master))
    assert "setSecret    FAILED: LoginDenied" in failed.stderr  # the engine's typed refusal
    assert '{"level"' not in failed.stderr and "Traceback" not in failed.stderr
    doc = error_doc(failed, 1, "failed")
    token = doc["error"]["staged"]["versionId"]
    assert doc["error"]["staged"]["clear"].endswith(f"--remove-from-version-id {token}")
    assert stages(stack)[token] == ["AWSPENDING"]  # left staged, as Secrets Manager would
    verbose = cli("rotate-now", "--local", "--token", token, "--verbose")
    assert '"level":"INFO"' in verbose.stderr.replace(" ", "")


def test_an_outage_with_a_working_previous_color_says_roll_back(cli, stack):
    cli("adopt")
    rotate(stack)  # green current
    green = f"{stack.app.username}_green"
    stack.db.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (green, HAND_PASSWORD))
    report = cli.json("status", expect=3)
    assert report["severity"] == "outage" and f"does not log in as '{green}'" in report["verdict"]
    assert report["fix"].startswith(
        "go back to AWSPREVIOUS (blue), which logs in: `bluegreen rollback --secret-id"
    )
    cli("rollback")
    after = cli.json("status", expect=3)  # consumers are back on blue; green stays broken (cosmetic)
    assert after["severity"] == "cosmetic" and flag(stack) == "blue"
    assert login_as(url(stack, "blue")) == stack.app.username


def test_status_under_the_wrong_prefix_does_not_suggest_a_second_mirror(cli, stack, monkeypatch):
    cli("adopt")
    rotate(stack)
    monkeypatch.delenv("PARAMETER_PREFIX")  # the operator forgot it: /db/{ENV} = /db/dev
    report = cli.json("status", expect=1)
    assert (
        report["severity"] == "unchecked"
        and "under /db/dev although the secret has been rotated" in (report["verdict"])
    )
    assert report["fix"].startswith("re-run with the function's prefix: `bluegreen status --parameter-prefix")
    assert cli.json("status", "--parameter-prefix", stack.prefix)["consistent"] is True
