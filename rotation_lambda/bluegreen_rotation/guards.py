"""Safety guards: the function never changes the password of a user that may be in use.

Pure functions over facts read elsewhere (the secret, the mirror, the session count), so each rule
is tested on its own and reads as the contract's guarantee 3.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bluegreen_db.naming import Color, other_color

from .errors import RotationRefusedError
from .mirror import MirrorState


@dataclass(frozen=True)
class GuardInput:
    target_color: Color
    target_user: str
    current_user: str
    mirror: MirrorState
    now: datetime
    grace_seconds: int


def check_not_in_use(facts: GuardInput) -> None:
    """Refuses when the user about to get a new password is AWSCURRENT's, the flag's, or left the flag
    less than the grace period ago (by Parameter Store's own modification time)."""
    if facts.target_user == facts.current_user:
        raise RotationRefusedError(
            f"refusing to change the password of {facts.target_user!r}: it is AWSCURRENT's user"
        )
    mirror = facts.mirror
    if mirror.flag_corrupt:
        raise RotationRefusedError(
            f"refusing to rotate: {mirror.names.flag} holds {mirror.flag_value!r}, not blue or green; "
            "fix it with `bluegreen adopt --force`"
        )
    if mirror.flag == facts.target_color:
        raise RotationRefusedError(
            f"refusing to change the password of {facts.target_user!r}: {mirror.names.flag} names "
            f"{facts.target_color}, so consumers use it"
        )
    if mirror.flag is None or mirror.flag_version == 1 or mirror.flag_modified is None:
        return  # the flag has never named the target color
    since = (facts.now - mirror.flag_modified).total_seconds()
    if since < facts.grace_seconds:
        raise RotationRefusedError(
            f"refusing to change the password of {facts.target_user!r}: the flag left {facts.target_color} "
            f"{since:.0f}s ago, less than ROTATION_GRACE_SECONDS={facts.grace_seconds}; "
            f"consumers may still use it. Retry after {facts.grace_seconds - since:.0f}s"
        )


def check_sessions(user: str, sessions: int, policy: str) -> None:
    """Refuses a user with live sessions under policy ``fail``; under ``warn`` the caller warns."""
    if sessions == 0 or policy == "warn":
        return
    raise RotationRefusedError(
        f"refusing to change the password of {user!r}: it has {sessions} live session(s) "
        "(ACTIVE_SESSION_POLICY=fail); they must drain first"
    )


def as_reconciled(mirror: MirrorState, current_color: Color, now: datetime) -> MirrorState:
    """The mirror as setSecret's reconciliation (``steps.reconcile_mirror``) leaves it, before its guard.

    A flag that is missing, holds garbage or names the other color is rewritten to AWSCURRENT's
    color: Parameter Store then reports a new version (1 for a parameter that did not exist) and a
    modification time of now, which is what the grace guard reads next.
    """
    if mirror.flag == current_color:
        return mirror
    version = 1 if mirror.flag_value is None else (mirror.flag_version or 0) + 1
    return replace(mirror, flag_value=current_color, flag_modified=now, flag_version=version)


def predict_set_secret(facts: GuardInput, sessions: int | None, policy: str) -> RotationRefusedError | None:
    """What setSecret will say to a new rotation, from facts read now: its refusal, or None.

    The same guards in the same order as ``steps.set_secret`` (reconcile the mirror, the in-use guard,
    then live sessions under the lock), so an operator tool can refuse *before* RotateSecret instead
    of leaving AWSPENDING staged. ``sessions`` None: not counted (that guard is not predicted).
    """
    current_color = other_color(facts.target_color)
    try:
        check_not_in_use(replace(facts, mirror=as_reconciled(facts.mirror, current_color, facts.now)))
        if sessions is not None:
            check_sessions(facts.target_user, sessions, policy)
    except RotationRefusedError as exc:
        return exc
    return None
