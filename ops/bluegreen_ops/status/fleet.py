"""``bluegreen status --all``: every secret of a fleet through the one-secret inspection, unchanged.

Each secret is inspected by :func:`~.facts.inspect` with the run's clients and settings and its own
``parameterPrefix``. A secret that cannot be read (access denied, a KMS key the caller may not use,
deleted since the listing) becomes an ``unchecked`` entry: one bad secret never hides the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from botocore.exceptions import BotoCoreError, ClientError

from bluegreen_rotation.errors import RotationError

from ..exit_codes import EXIT_FAILURE
from ..operations.env import Env
from ..operations.errors import OperationError, describe_client_error
from ..operations.fleet import FleetMember, FleetSelector
from .diagnosis import Problem
from .facts import inspect
from .report import StatusReport

Progress = Callable[[int, int, FleetMember], None]


@dataclass
class FleetEntry:
    """One secret's line: its full report, or why it could not be inspected."""

    member: FleetMember
    report: StatusReport | None = None
    error: str | None = None

    @property
    def problems(self) -> list[Problem]:
        if self.report is not None:
            return self.report.problems
        return [
            Problem(
                "unchecked",
                f"cannot inspect the secret: {self.error}",
                f"check this shell's access to it: `bluegreen status --secret-id {self.member.arn}`",
            )
        ]

    @property
    def severity(self) -> str | None:
        problems = self.problems
        return problems[0].severity if problems else None

    @property
    def summary(self) -> str:
        """The verdict without its fix (the fix has its own column)."""
        problems = self.problems
        if not problems:
            return "consistent"
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return f"{problems[0].severity}: {problems[0].message}{more}"

    @property
    def fix(self) -> str | None:
        problems = self.problems
        return problems[0].fix if problems else None

    @property
    def color(self) -> str | None:
        """AWSCURRENT's color: the one consumers use once the mirror agrees (a problem says when not)."""
        current = self.report.current if self.report else None
        return current.color if current else None

    @property
    def prefix(self) -> str | None:
        return self.report.names.prefix if self.report else None

    @property
    def exit_code(self) -> int:
        return self.report.exit_code if self.report else EXIT_FAILURE


@dataclass
class FleetReport:
    selector: FleetSelector
    entries: list[FleetEntry] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The worst entry's: 3 (inconsistent) over 1 (unchecked) over 0 (consistent)."""
        return max((e.exit_code for e in self.entries), default=0)


def inspect_fleet(
    env: Env,
    selector: FleetSelector,
    members: list[FleetMember],
    *,
    check_db: bool = True,
    progress: Progress | None = None,
) -> FleetReport:
    """Inspects every member in turn; changes nothing."""
    fleet = FleetReport(selector)
    for index, member in enumerate(members, start=1):
        if progress is not None:
            progress(index, len(members), member)
        fleet.entries.append(inspect_member(replace(env, secret_id=member.arn), member, check_db=check_db))
    return fleet


def inspect_member(env: Env, member: FleetMember, *, check_db: bool) -> FleetEntry:
    try:
        return FleetEntry(member, report=inspect(env, check_db=check_db))
    except OperationError as exc:
        return FleetEntry(member, error=exc.message)
    except ClientError as exc:
        return FleetEntry(member, error=describe_client_error(exc))
    except (RotationError, BotoCoreError) as exc:
        return FleetEntry(member, error=str(exc))
