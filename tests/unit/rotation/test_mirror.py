"""The Parameter Store mirror against a plain fake client: one read, typed writes, the flag's facts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bluegreen_db.naming import ParameterNames
from bluegreen_rotation.mirror import Mirror
from tests.unit.rotation.fakes import Clock, FakeSSM

NAMES = ParameterNames.for_prefix("/db/test", {})
WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def ssm() -> FakeSSM:
    return FakeSSM(Clock(WHEN))


def test_an_empty_mirror_reads_as_no_flag_and_no_urls(ssm: FakeSSM) -> None:
    state = Mirror(ssm, NAMES).read()  # type: ignore[arg-type]
    assert (state.flag, state.flag_value, state.flag_version, state.flag_modified) == (None, None, None, None)
    assert not state.flag_corrupt
    assert state.url("blue", "writer") is None
    assert ssm.calls == [("GetParameters", tuple(NAMES.all()))], "one call reads the whole mirror"


def test_urls_are_secure_strings_under_the_configured_key_and_the_flag_a_string(ssm: FakeSSM) -> None:
    mirror = Mirror(ssm, NAMES, kms_key_id="alias/app")  # type: ignore[arg-type]
    mirror.write_url("green", "reader", "mysql+pymysql://u:p@h:3306/d")
    mirror.write_flag("green")
    (_, url_call), (_, flag_call) = ssm.calls
    assert (url_call["Name"], url_call["Type"], url_call["KeyId"]) == (
        NAMES.url("green", "reader"),
        "SecureString",
        "alias/app",
    )
    assert (flag_call["Name"], flag_call["Type"], flag_call["Value"]) == (NAMES.flag, "String", "green")
    assert "KeyId" not in flag_call
    assert url_call["Overwrite"] and flag_call["Overwrite"], "missing parameters are created, others replaced"


def test_without_a_key_the_account_default_key_is_used(ssm: FakeSSM) -> None:
    Mirror(ssm, NAMES).write_url("blue", "writer", "x://u:p@h:1/d")  # type: ignore[arg-type]
    assert "KeyId" not in ssm.calls[0][1]


def test_the_state_reports_the_flag_with_its_version_and_modification_time(ssm: FakeSSM) -> None:
    mirror = Mirror(ssm, NAMES)  # type: ignore[arg-type]
    mirror.write_flag("blue")
    mirror.write_flag("green")
    mirror.write_url("green", "writer", "x://g:p@h:1/d")
    state = mirror.read()
    assert (state.flag, state.flag_version, state.flag_modified) == ("green", 2, WHEN)
    assert state.url("green", "writer") == "x://g:p@h:1/d"
    assert state.url("blue", "writer") is None
    assert "x://g:p" not in repr(state), "URLs carry passwords: never in a repr"


def test_a_flag_holding_anything_but_a_color_is_corrupt_not_a_color(ssm: FakeSSM) -> None:
    ssm.put_parameter(Name=NAMES.flag, Value="purple", Type="String", Overwrite=True)
    state = Mirror(ssm, NAMES).read()  # type: ignore[arg-type]
    assert (state.flag, state.flag_value, state.flag_corrupt) == (None, "purple", True)
