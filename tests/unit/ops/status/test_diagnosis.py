"""The diagnosis model: severities and their exit kinds, ranking, the grace period and its line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bluegreen_db.naming import ParameterNames
from bluegreen_ops.status.diagnosis import (
    SEVERITIES,
    Problem,
    grace_line,
    in_grace,
    ranked,
    seconds_since_flip,
)
from bluegreen_rotation.mirror import MirrorState

NAMES = ParameterNames("/db/unit")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def mirror(flag: str | None = "blue", *, ago: float = 60, version: int | None = 2) -> MirrorState:
    return MirrorState(NAMES, flag, NOW - timedelta(seconds=ago) if flag else None, version if flag else None)


def test_only_an_unchecked_problem_is_an_error_every_other_is_an_inconsistency():
    kinds = {s: Problem(s, "m", "f").kind for s in SEVERITIES}
    assert kinds == {
        "outage": "inconsistent",
        "at-risk": "inconsistent",
        "unchecked": "error",
        "blocked": "inconsistent",
        "cosmetic": "inconsistent",
    }
    assert Problem("blocked", "m", "f").as_dict() == {
        "severity": "blocked",
        "kind": "inconsistent",
        "message": "m",
        "fix": "f",
    }


def test_ranking_puts_the_most_urgent_first_and_keeps_the_order_found_within_a_severity():
    found = [Problem("cosmetic", "c", ""), Problem("blocked", "b1", ""), Problem("outage", "o", "")]
    found.append(Problem("blocked", "b2", ""))
    assert [p.message for p in ranked(found)] == ["o", "b1", "b2", "c"]


def test_a_flag_that_never_moved_has_no_time_since_flip_and_no_grace():
    assert seconds_since_flip(mirror(version=1), NOW) is None
    assert seconds_since_flip(mirror(None), NOW) is None
    assert seconds_since_flip(mirror("purple"), NOW) is None
    assert not in_grace(mirror(version=1), NOW, 900)


def test_grace_holds_until_the_grace_seconds_have_passed_since_the_flip():
    assert seconds_since_flip(mirror(ago=60), NOW) == 60
    assert in_grace(mirror(ago=60), NOW, 900)
    assert not in_grace(mirror(ago=900), NOW, 900)


def test_the_grace_line_says_what_the_guard_will_read_for_every_flag_state():
    assert grace_line(mirror(ago=200), NOW, 900) == (
        "the flag last moved 3m 20s ago; ROTATION_GRACE_SECONDS=900"
    )
    assert "is missing: setSecret creates it (version 1)" in grace_line(mirror(None), NOW, 900)
    assert "holds 'purple', not a color" in grace_line(mirror("purple"), NOW, 900)
    assert "has not moved since it was created" in grace_line(mirror(version=1), NOW, 900)
