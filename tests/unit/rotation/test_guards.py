from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bluegreen_db.naming import ParameterNames
from bluegreen_rotation import guards
from bluegreen_rotation.errors import RotationRefusedError
from bluegreen_rotation.mirror import MirrorState

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NAMES = ParameterNames("/db/test")


def facts(flag="green", age=1000, version=2, target="blue", grace=900, current_user="app_green"):
    mirror = MirrorState(
        NAMES, flag, NOW - timedelta(seconds=age) if flag else None, version if flag else None
    )
    return guards.GuardInput(
        target_color=target,
        target_user="app" if target == "blue" else "app_green",
        current_user=current_user,
        mirror=mirror,
        now=NOW,
        grace_seconds=grace,
    )


def test_allows_a_color_off_the_flag_longer_than_grace():
    guards.check_not_in_use(facts())


def test_refuses_awscurrent_user():
    with pytest.raises(RotationRefusedError, match="it is AWSCURRENT's user"):
        guards.check_not_in_use(facts(current_user="app"))


def test_refuses_the_flags_color():
    with pytest.raises(RotationRefusedError, match="names blue, so consumers use it"):
        guards.check_not_in_use(facts(flag="blue"))


def test_refuses_within_grace_and_says_when_to_retry():
    with pytest.raises(RotationRefusedError, match=r"left blue 100s ago.*Retry after 800s"):
        guards.check_not_in_use(facts(age=100))


def test_grace_boundary_and_zero_grace():
    guards.check_not_in_use(facts(age=900))
    guards.check_not_in_use(facts(age=0, grace=0))


def test_a_flag_never_rewritten_never_named_the_target():
    guards.check_not_in_use(facts(age=0, version=1))


def test_missing_flag_is_the_first_rotation():
    guards.check_not_in_use(facts(flag=None))


def test_corrupt_flag_refuses():
    with pytest.raises(RotationRefusedError, match="holds 'purple'"):
        guards.check_not_in_use(facts(flag="purple"))


def test_sessions_policy():
    guards.check_sessions("app", 0, "fail")
    guards.check_sessions("app", 3, "warn")
    with pytest.raises(RotationRefusedError, match="3 live session"):
        guards.check_sessions("app", 3, "fail")


# -- the forecast operator tools share (guards.predict_set_secret) ------------------------------------


def test_reconciliation_moves_a_disagreeing_flag_to_the_current_color_now():
    mirror = MirrorState(NAMES, "blue", NOW - timedelta(days=1), 4)
    assert guards.as_reconciled(mirror, "green", NOW) == MirrorState(NAMES, "green", NOW, 5)
    missing = MirrorState(NAMES, None, None, None)
    assert guards.as_reconciled(missing, "green", NOW).flag_version == 1  # a new parameter
    agreeing = MirrorState(NAMES, "green", NOW - timedelta(days=1), 4)
    assert guards.as_reconciled(agreeing, "green", NOW) is agreeing


@pytest.mark.parametrize(
    ("flag", "version", "age", "sessions", "refused"),
    [
        ("green", 2, 1000, 0, None),  # off the flag longer than grace, no sessions
        ("green", 2, 10, 0, "less than ROTATION_GRACE_SECONDS"),
        ("green", 2, 1000, 3, "3 live session"),
        ("green", 2, 1000, None, None),  # sessions not counted: that guard is not predicted
        (None, None, 0, 0, None),  # missing: setSecret creates it (version 1), nothing held back
        ("purple", 3, 1000, 0, "less than ROTATION_GRACE_SECONDS"),  # garbage: rewritten now
        ("blue", 3, 1000, 0, "less than ROTATION_GRACE_SECONDS"),  # names the target: moved back now
    ],
)
def test_predict_set_secret_applies_reconciliation_then_the_guards(flag, version, age, sessions, refused):
    facts_ = facts(flag=flag, age=age, version=version)
    refusal = guards.predict_set_secret(facts_, sessions, "fail")
    if refused is None:
        assert refusal is None
    else:
        assert refusal is not None and refused in str(refusal)
    assert guards.predict_set_secret(facts(flag="green", age=1000), 3, "warn") is None
