"""Each diagnosis rule of ``bluegreen status`` on a hand-built situation: what it finds, and when not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bluegreen_db.naming import ParameterNames
from bluegreen_ops.operations.secret_reads import SecretMeta
from bluegreen_ops.status import rules
from bluegreen_ops.status.facts import gather_urls
from bluegreen_ops.status.report import StatusReport, VersionFacts
from bluegreen_ops.status.rules import Situation, diagnose
from bluegreen_rotation.mirror import MirrorState
from bluegreen_rotation.secret import DbSecret
from bluegreen_rotation.secrets_store import SecretState
from tests.unit.ops.fakes import ARN, BLUE, BLUE_URLS, FUNCTION_ARN, GREEN, GREEN_URLS, NEW, OLD, PREFIX, url

NAMES = ParameterNames(PREFIX)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
GRACE = 900
SID = "app/aurora"
CURRENT_ONLY = {OLD: ["AWSCURRENT"]}
ROTATED = {NEW: ["AWSCURRENT"], OLD: ["AWSPREVIOUS"]}  # green is AWSCURRENT, blue AWSPREVIOUS
BOTH = {OLD: BLUE, NEW: GREEN}


def rotate_command(token: str | None = None) -> str:
    return f"bluegreen rotate-now --secret-id {SID}" + (f" --token {token}" if token else "")


def situation(
    versions: dict[str, list[str]] | None = None,
    values: dict[str, str] | None = None,
    *,
    logins: dict[str, str] | None = None,
    flag: str | None = "blue",
    urls: dict[str, str] | None = None,
    since: float = 86400,
    flag_version: int = 2,
    last_rotated: datetime | None = None,
) -> Situation:
    """A report as status would gather it: blue AWSCURRENT, the flag on blue and blue's URLs by default."""
    versions = CURRENT_ONLY if versions is None else versions
    values = {OLD: BLUE} if values is None else values
    meta = SecretMeta(SecretState(ARN, SID, True, versions), FUNCTION_ARN, last_rotated, None)
    report = StatusReport(
        meta=meta, names=NAMES, grace_seconds=GRACE, session_policy="fail", checked_db=True, now=NOW
    )
    for vid, stages in versions.items():
        text = values.get(vid)
        secret = DbSecret.parse(text, vid) if text else None
        error = None if secret else "no value yet (createSecret has not run)"
        report.versions.append(VersionFacts(vid, stages, secret, error, (logins or {}).get(vid)))
    current = report.current
    assert current is not None
    mirror = MirrorState(
        NAMES, flag, NOW - timedelta(seconds=since), flag_version, dict(BLUE_URLS if urls is None else urls)
    )
    report.mirror = mirror
    gather_urls(report, mirror, current)
    return Situation(report, current, mirror, SID, rotate_command)


def rotated(**kwargs: Any) -> Situation:
    """After one rotation: green AWSCURRENT on the flag, blue AWSPREVIOUS, both colors' URLs."""
    kwargs.setdefault("flag", "green")
    kwargs.setdefault("urls", {**BLUE_URLS, **GREEN_URLS})
    return situation(ROTATED, BOTH, **kwargs)


def test_a_healthy_state_has_no_problem_and_no_note():
    assert diagnose(rotated()) == ([], [])


def test_current_password_rejected_points_at_repair_or_at_a_rollback_that_logs_in():
    alone = rules.current_password_rejected(situation(logins={OLD: "no"}))
    assert alone is not None and alone.severity == "outage"
    assert "does not log in as 'app'" in alone.message and "bluegreen repair" in alone.fix
    back = rules.current_password_rejected(rotated(logins={NEW: "no", OLD: "yes"}))
    assert back is not None and "`bluegreen rollback --secret-id app/aurora`" in back.fix
    assert rules.current_password_rejected(situation(logins={OLD: "yes"})) is None


def test_flag_missing_while_urls_exist_is_an_outage_fixed_by_adopt():
    problem = rules.flag_missing(situation(flag=None))
    assert problem is not None and problem.severity == "outage"
    assert problem.fix.startswith("`bluegreen adopt --secret-id app/aurora`")
    assert rules.flag_missing(situation()) is None


def test_an_empty_mirror_of_a_rotated_secret_is_another_prefix_and_stops_the_diagnosis():
    s = rotated(flag=None, urls={})
    problem = rules.mirror_under_another_prefix(s)
    assert problem is not None and problem.severity == "unchecked"
    assert "--parameter-prefix <prefix>" in problem.fix
    assert diagnose(s) == ([problem], [])  # no "missing" repeated by the other mirror rules
    assert rules.never_adopted(s) is None


def test_an_empty_mirror_of_a_never_rotated_secret_was_never_adopted():
    s = situation(flag=None, urls={})
    problem = rules.never_adopted(s)
    assert problem is not None and problem.severity == "cosmetic"
    assert problem.fix == "`bluegreen adopt --secret-id app/aurora`"
    assert rules.mirror_under_another_prefix(s) is None


def test_a_flag_that_holds_no_color_is_an_outage_fixed_by_adopt_force():
    problem = rules.flag_corrupt(situation(flag="purple"))
    assert problem is not None and problem.severity == "outage" and "'purple'" in problem.message
    assert "bluegreen adopt --force" in problem.fix
    assert rules.flag_corrupt(situation()) is None


def test_flag_urls_that_hold_no_stage_are_an_outage_on_the_flags_color():
    stale = {name: url("app", "some-other-Passw0rd") for name in BLUE_URLS}
    s = situation(urls=stale)
    problem = rules.flag_urls_rejected(s)
    assert problem is not None and problem.severity == "outage"
    assert "writer: stale (differs from the secret: password)" in problem.message
    assert "rewrites blue's URLs from AWSCURRENT" in problem.fix
    assert rules.flag_urls_not_current(s) is None  # the outage covers them


def test_flag_urls_that_log_in_but_are_not_awscurrents_are_at_risk():
    stale = {name: url("app", "some-other-Passw0rd") for name in BLUE_URLS}
    s = situation(urls=stale)
    for u in s.report.urls_of("blue"):
        u.login = "yes"
    assert rules.flag_urls_rejected(s) is None
    problem = rules.flag_urls_not_current(s)
    assert problem is not None and problem.severity == "at-risk"


def test_awscurrents_own_failed_login_explains_the_flag_urls_holding_it():
    s = situation(logins={OLD: "no"})
    for u in s.report.urls_of("blue"):
        u.login = "no"
    assert rules.flag_urls_rejected(s) is None  # current_password_rejected reports it


def test_a_flag_on_the_other_color_is_blocked_and_offers_both_ways():
    s = rotated(flag="blue")
    problem = rules.flag_names_other_color(s)
    assert problem is not None and problem.severity == "blocked"
    assert "the flag names blue (app) but AWSCURRENT is green (app_green)" in problem.message
    assert "keep AWSCURRENT" in problem.fix and "bluegreen rollback --force" in problem.fix
    assert rules.flag_names_other_color(rotated()) is None


def test_a_rejected_previous_password_is_at_risk_in_grace_and_cosmetic_after():
    in_grace = rules.previous_password_rejected(rotated(logins={OLD: "no"}, since=60))
    assert in_grace is not None and in_grace.severity == "at-risk"
    assert "consumers that have not moved off blue yet cannot reconnect" in in_grace.message
    after = rules.previous_password_rejected(rotated(logins={OLD: "no"}))
    assert after is not None and after.severity == "cosmetic"
    assert rules.previous_password_rejected(rotated(logins={OLD: "yes"})) is None


def test_the_other_colors_missing_urls_are_repaired_from_awsprevious():
    problem = rules.other_color_urls_wrong(rotated(urls=dict(GREEN_URLS)))
    assert problem is not None and problem.severity == "cosmetic"
    assert problem.fix == "`bluegreen repair --secret-id app/aurora` rewrites them from AWSPREVIOUS"


def test_the_other_color_before_the_first_rotation_is_only_a_note():
    s = situation()
    assert rules.other_color_urls_wrong(s) is None
    assert rules.note_other_color_never_written(s) == "green has no URLs yet: the first rotation writes them"
    assert diagnose(s) == ([], ["green has no URLs yet: the first rotation writes them"])


def test_an_unfinished_rotation_blocks_and_names_its_retry_and_abandon_commands():
    s = situation({OLD: ["AWSCURRENT"], NEW: ["AWSPENDING"]}, BOTH)
    problem = rules.unfinished_rotation(s)
    assert problem is not None and problem.severity == "blocked"
    assert f"rotation {NEW} for app_green (green) has not finished" in problem.message
    assert f"`bluegreen rotate-now --secret-id app/aurora --token {NEW}`" in problem.fix
    assert f"--remove-from-version-id {NEW}" in problem.fix
    assert rules.unfinished_rotation(situation()) is None


def test_an_older_password_of_the_same_user_makes_rollback_unavailable():
    s = situation({NEW: ["AWSCURRENT"], OLD: ["AWSPREVIOUS"]}, {NEW: BLUE, OLD: BLUE}, logins={OLD: "n/a"})
    note = rules.note_rollback_unavailable(s)
    assert note is not None and "older password of the same user 'app'" in note


def test_problems_come_in_rule_order():
    s = situation(flag="purple", logins={OLD: "no"})
    problems, _ = diagnose(s)
    assert [p.message.split(":")[0] for p in problems][:2] == [
        "AWSCURRENT's password does not log in as 'app'",
        f"{NAMES.flag} holds 'purple', not blue or green",
    ]
