"""The diagnosis model: problems ranked by what they cost consumers, each with the one command that fixes it.

The rules that find the problems are in :mod:`.rules`; the Next line asks the function's own guards
(:func:`bluegreen_ops.operations.forecast.next_rotation`), so the CLI and the function cannot disagree
about a refusal.

Severity, most urgent first:

``outage``     consumers fail now: AWSCURRENT does not log in, or the flag's URLs do not (or the flag is
               missing / holds garbage while consumers read it)
``at-risk``    consumers that have not moved yet fail: AWSPREVIOUS's color is broken while the grace
               period says consumers may still use it
``unchecked``  a check could not be made (database unreachable, master user denied)
``blocked``    no rotation can proceed (an unfinished AWSPENDING, a flag that disagrees with AWSCURRENT)
``cosmetic``   nothing fails and nothing is blocked, but the state is not what the tool keeps
               (never adopted; the other color broken after the grace period)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bluegreen_rotation.mirror import MirrorState

from ..operations.durations import format_duration

Severity = Literal["outage", "at-risk", "unchecked", "blocked", "cosmetic"]
SEVERITIES: tuple[Severity, ...] = ("outage", "at-risk", "unchecked", "blocked", "cosmetic")


@dataclass
class Problem:
    severity: Severity
    message: str
    fix: str

    @property
    def kind(self) -> str:
        """``error`` when a check could not be made, ``inconsistent`` otherwise (exit 1 vs 3)."""
        return "error" if self.severity == "unchecked" else "inconsistent"

    def as_dict(self) -> dict[str, str]:
        return {"severity": self.severity, "kind": self.kind, "message": self.message, "fix": self.fix}


def ranked(problems: list[Problem]) -> list[Problem]:
    """Most urgent first; the order found is kept within a severity."""
    return sorted(problems, key=lambda p: SEVERITIES.index(p.severity))


def seconds_since_flip(mirror: MirrorState, now: datetime) -> float | None:
    """How long ago the flag last moved; None when it never did (missing, garbage or version 1)."""
    if mirror.flag is None or mirror.flag_modified is None or mirror.flag_version == 1:
        return None
    return (now - mirror.flag_modified).total_seconds()


def in_grace(mirror: MirrorState, now: datetime, grace_seconds: int) -> bool:
    """Whether consumers may still use the color that left the flag (the guard's own rule)."""
    since = seconds_since_flip(mirror, now)
    return since is not None and since < grace_seconds


def grace_line(mirror: MirrorState, now: datetime, grace_seconds: int) -> str:
    """The ``Grace`` line: what the grace guard will read, said truthfully for every flag state."""
    flag = mirror.names.flag
    if mirror.flag_value is None:
        state = f"{flag} is missing: setSecret creates it (version 1), so the grace guard holds nothing back"
    elif mirror.flag_corrupt:
        state = (
            f"{flag} holds {mirror.flag_value!r}, not a color: setSecret rewrites it, which restarts "
            "the grace period"
        )
    elif (since := seconds_since_flip(mirror, now)) is not None:
        state = f"the flag last moved {format_duration(since)} ago"
    else:
        state = "the flag has not moved since it was created (version 1)"
    return f"{state}; ROTATION_GRACE_SECONDS={grace_seconds}"


__all__ = [
    "SEVERITIES",
    "Problem",
    "Severity",
    "grace_line",
    "in_grace",
    "ranked",
    "seconds_since_flip",
]
