"""What setSecret will say to a rotation started now: the function's own guards on the state read now.

``rotate-now``'s pre-check and ``status``'s Next line both ask here, so neither can disagree with the
function about a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from bluegreen_db.naming import other_color
from bluegreen_rotation import guards
from bluegreen_rotation.guards import GuardInput
from bluegreen_rotation.mirror import MirrorState
from bluegreen_rotation.secret import DbSecret


@dataclass(frozen=True)
class Forecast:
    """What setSecret will say to the next rotation: ``refusal`` None means it proceeds."""

    target_user: str
    target_color: str
    refusal: str | None
    sessions_checked: bool


def next_rotation(
    current: DbSecret,
    mirror: MirrorState,
    *,
    now: datetime,
    grace_seconds: int,
    sessions: int | None,
    policy: str,
) -> Forecast:
    """The function's guards, applied to the state read now, for a rotation started now."""
    target = other_color(current.color)
    target_user = current.username_of(target)
    refusal = guards.predict_set_secret(
        GuardInput(
            target_color=target,
            target_user=target_user,
            current_user=current.username,
            mirror=mirror,
            now=now,
            grace_seconds=grace_seconds,
        ),
        sessions,
        policy,
    )
    return Forecast(target_user, target, str(refusal) if refusal else None, sessions is not None)


def next_rotation_everywhere(
    current: DbSecret,
    mirror: MirrorState,
    replicas: Mapping[str, MirrorState],
    *,
    now: datetime,
    grace_seconds: int,
    sessions: int | None,
    policy: str,
) -> Forecast:
    """:func:`next_rotation` on the primary region's mirror, then on each replica region's: setSecret's
    guard reads every region's flag (a consumer there may still use the color about to change), and
    counts sessions once (they are the database's). A replica's refusal names its region."""
    forecast = next_rotation(
        current, mirror, now=now, grace_seconds=grace_seconds, sessions=sessions, policy=policy
    )
    for region, there in replicas.items():
        if forecast.refusal is not None:
            break
        refusal = next_rotation(
            current, there, now=now, grace_seconds=grace_seconds, sessions=None, policy=policy
        ).refusal
        if refusal:
            forecast = replace(forecast, refusal=f"in {region}: {refusal}")
    return forecast
