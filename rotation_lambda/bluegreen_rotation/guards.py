"""Safety guards: the function never changes the password of a user that may be in use.

Pure functions over facts read elsewhere (the secret, the mirror, the session count), so each rule
is tested on its own and reads as the contract's guarantee 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bluegreen_db.naming import Color

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
