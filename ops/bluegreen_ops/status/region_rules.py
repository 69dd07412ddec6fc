"""The diagnosis rules of a replicated secret's replica regions, one function per rule.

The primary region's mirror is diagnosed by :mod:`.rules`; a replica region is judged as its own
consumers see it: its flag must be AWSCURRENT's color and the flag's URLs that version's credentials
(the region's own reader host). Every fix is the same: the function completes every region's mirror
whenever finishSecret runs for AWSCURRENT's version, and at every rotation's setSecret.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable

from bluegreen_rotation.secret import DbSecret

from ..operations.env import Env
from .diagnosis import Problem
from .report import RegionFacts, StatusReport, UrlFacts

RegionRule = Callable[[RegionFacts, StatusReport, DbSecret, str], "Problem | None"]
_UNUSABLE = ("missing", "malformed", "wrong-user")


def complete_mirror_command(env: Env, report: StatusReport) -> str:
    """The command that completes every region's mirror and changes nothing else: finishSecret for
    the AWSCURRENT version (the function only completes the mirror then). On an emulator, or with
    no function attached, a rotation's setSecret does it."""
    function = report.meta.function_name
    current = report.meta.state.version_with("AWSCURRENT")
    if env.emulator or function is None or current is None:
        return f"`{env.rotate_command()}` (its setSecret completes every region's mirror)"
    payload = json.dumps({"Step": "finishSecret", "SecretId": report.meta.arn, "ClientRequestToken": current})
    region = f" --region {report.regions[0].region}" if report.regions else ""
    return (
        f"`aws lambda invoke{region} --function-name {shlex.quote(function)} --cli-binary-format "
        f"raw-in-base64-out --payload {shlex.quote(payload)} /dev/null` (finishSecret for AWSCURRENT "
        "completes every region's mirror)"
    )


def region_unreadable(r: RegionFacts, report: StatusReport, current: DbSecret, fix: str) -> Problem | None:
    if r.error is None:
        return None
    return Problem(
        "unchecked",
        f"in {r.region}: cannot read Parameter Store ({r.error})",
        f"allow this shell ssm:GetParameters on {report.names.prefix}/* in {r.region} (and kms:Decrypt "
        "on that region's key), or pass the --profile that may",
    )


def region_flag_unusable(r: RegionFacts, report: StatusReport, current: DbSecret, fix: str) -> Problem | None:
    """No flag, or one holding something other than a color: consumers there cannot pick one."""
    if r.mirror is None or r.mirror.flag is not None:
        return None
    state = "is missing" if r.mirror.flag_value is None else f"holds {r.mirror.flag_value!r}"
    return Problem(
        "outage",
        f"in {r.region}: {report.names.flag} {state}: consumers in {r.region} cannot tell which color to use",
        fix,
    )


def region_flag_other_color(
    r: RegionFacts, report: StatusReport, current: DbSecret, fix: str
) -> Problem | None:
    """The region's flag names the color AWSCURRENT is not on: consumers there lag one rotation."""
    flag = r.mirror.flag if r.mirror else None
    if flag is None or flag == current.color:
        return None
    return Problem(
        "blocked",
        f"in {r.region}: the flag names {flag} but AWSCURRENT is {current.color}: consumers in "
        f"{r.region} use {flag}'s URLs, and the next setSecret refuses to change {flag}'s password "
        "until its grace period has passed",
        fix,
    )


def region_flag_urls_wrong(
    r: RegionFacts, report: StatusReport, current: DbSecret, fix: str
) -> Problem | None:
    """The URLs of the region's flag color are not the credentials of the version on that color."""
    flag = r.mirror.flag if r.mirror else None
    bad = [u for u in r.urls_of(flag) if not u.check.ok] if flag else []
    if not bad:
        return None
    unusable = any(u.check.state in _UNUSABLE for u in bad)
    return Problem(
        "outage" if unusable else "at-risk",
        f"in {r.region}: the flag names {flag} but {flag}'s URLs there are not its credentials "
        f"({_where(bad)})",
        fix,
    )


def _where(urls: list[UrlFacts]) -> str:
    return ", ".join(f"{u.role} {u.check.state}" for u in urls)


REGION_RULES: tuple[RegionRule, ...] = (
    region_unreadable,
    region_flag_unusable,
    region_flag_urls_wrong,
    region_flag_other_color,
)


def replica_problems(report: StatusReport, current: DbSecret, fix: str) -> list[Problem]:
    """Every replica region's problems, in region order, then :data:`REGION_RULES` order."""
    problems = []
    for region in report.regions:
        if region.primary:
            continue
        for rule in REGION_RULES:
            problem = rule(region, report, current, fix)
            if problem is not None:
                problems.append(problem)
    return problems
