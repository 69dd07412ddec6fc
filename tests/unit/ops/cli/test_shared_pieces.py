"""The CLI's shared pieces: masking, URL checks, formatting, error rendering, exit codes."""

from __future__ import annotations

import json
from urllib.parse import quote

from click.testing import CliRunner

from bluegreen_db.dburl import build_url
from bluegreen_ops.cli import main
from bluegreen_ops.cli.error_handling import describe_client_error
from bluegreen_ops.cli.render import Output
from bluegreen_ops.operations.durations import format_duration
from bluegreen_ops.operations.urls import check_url
from bluegreen_ops.status.render import render_table
from bluegreen_rotation.secret import DbSecret
from tests.unit.ops.fakes import GREEN, error

PASSWORD = "p@ss:w/rd%41 #?&=+'\"\\"


def test_output_masks_every_encoding_of_a_protected_password_and_any_url_password():
    out = Output()
    out.protect(PASSWORD, None, "")
    url = build_url("mysql+pymysql", "app", PASSWORD, "h", 3306, "db")
    text = out.mask(f"raw {PASSWORD} url {url} json {json.dumps(PASSWORD)} other mysql://u:secret@h:1/d")
    assert PASSWORD not in text and quote(PASSWORD, safe="") not in text
    assert json.dumps(PASSWORD)[1:-1] not in text
    assert "mysql://u:***@h:1/d" in text and "mysql+pymysql://app:***@h:3306/db" in text


def test_check_url_states():
    green = DbSecret.parse(GREEN)
    ok = green.url("writer", "mysql")
    assert check_url(ok, "app_green", "writer", green).ok
    assert check_url(
        ok.replace("mysql://", "mysql+pymysql://"), "app_green", "writer", green
    ).ok  # scheme ignored
    assert check_url(None, "app_green", "writer", green).state == "missing"
    assert check_url("not a url", "app_green", "writer", green).state == "malformed"
    wrong = check_url(ok.replace("app_green", "app", 1), "app_green", "writer", green)
    assert wrong.state == "wrong-user" and wrong.user == "app"
    stale = check_url(
        build_url("mysql", "app_green", "old", green.host, 3306, "appdb"), "app_green", "writer", green
    )
    assert stale.state == "stale" and stale.detail == "differs from the secret: password"
    assert "old" not in (stale.redacted or "")
    assert check_url(ok, "app_green", "writer", None).ok  # no version to compare the password with


def test_format_duration_and_table():
    assert [format_duration(s) for s in (0, 59, 61, 3600, 90061)] == ["0s", "59s", "1m 1s", "1h 0m", "1d 1h"]
    assert render_table(["A", "BB"], [["xxx", "y"]]) == ["A    BB", "xxx  y"]


def test_client_errors_of_writes_withhold_the_message():
    exc = error("ValidationException", "PutParameter")
    exc.response["Error"]["Message"] = "Value 'mysql://u:secret@h/db' failed to satisfy constraint"
    text = describe_client_error(exc)
    assert "secret" not in text and "PutParameter failed: ValidationException" in text


def test_help_and_version():
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("status", "rotate-now", "adopt", "rollback"):
        assert command in result.output
    assert "3 inconsistent" in result.output
    assert runner.invoke(main, ["status", "--help"]).exit_code == 0
    assert runner.invoke(main, ["frobnicate"]).exit_code == 2
