"""What ``bluegreen status`` found: the facts per version and per URL, the problems, the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bluegreen_db.naming import Color, ParameterNames, Role
from bluegreen_rotation.mirror import MirrorState
from bluegreen_rotation.secret import DbSecret
from bluegreen_rotation.secrets_store import CURRENT

from ..exit_codes import EXIT_FAILURE, EXIT_INCONSISTENT, EXIT_OK
from ..operations.secret_reads import SecretMeta
from ..operations.urls import UrlCheck
from .diagnosis import Problem


@dataclass
class VersionFacts:
    version_id: str
    stages: list[str]
    secret: DbSecret | None = None
    error: str | None = None
    login: str | None = None  # yes / no / n/a / error; None when not checked

    @property
    def user(self) -> str | None:
        return self.secret.username if self.secret else None

    @property
    def color(self) -> Color | None:
        return self.secret.color if self.secret else None


@dataclass
class UrlFacts:
    color: Color
    role: Role
    name: str
    expected_user: str
    check: UrlCheck
    matches: str | None = None  # the stage whose credentials the URL holds (AWSCURRENT, ...), if any
    login: str | None = None  # yes / no / error; checked for the flag's color only


@dataclass
class RegionFacts:
    """One region's mirror of a replicated secret, as consumers in that region read it."""

    region: str
    primary: bool
    mirror: MirrorState | None = None
    urls: list[UrlFacts] = field(default_factory=list)
    error: str | None = None  # why this region's Parameter Store could not be read

    def urls_of(self, color: Color) -> list[UrlFacts]:
        return [u for u in self.urls if u.color == color]


@dataclass
class StatusReport:
    meta: SecretMeta
    names: ParameterNames
    grace_seconds: int
    session_policy: str
    checked_db: bool
    now: datetime
    settings_source: str = "this shell"
    versions: list[VersionFacts] = field(default_factory=list)
    mirror: MirrorState | None = None
    urls: list[UrlFacts] = field(default_factory=list)
    master_user: str | None = None
    sessions: dict[str, int] = field(default_factory=dict)
    since_flip: float | None = None
    next_rotation: str = ""
    next_rotation_allowed: bool | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    regions: list[RegionFacts] = field(default_factory=list)
    """Every region's mirror, the primary's first, when the secret has replica regions; else empty."""

    def stage(self, stage: str) -> VersionFacts | None:
        return next((v for v in self.versions if stage in v.stages), None)

    @property
    def current(self) -> DbSecret | None:
        facts = self.stage(CURRENT)
        return facts.secret if facts else None

    @property
    def pending(self) -> VersionFacts | None:
        """The unfinished rotation's version (AWSPENDING not on AWSCURRENT), if any."""
        vid = self.meta.stuck_pending
        return next((v for v in self.versions if v.version_id == vid), None) if vid else None

    def urls_of(self, color: Color) -> list[UrlFacts]:
        return [u for u in self.urls if u.color == color]

    @property
    def verdict(self) -> str:
        if not self.problems:
            return "consistent"
        first = self.problems[0]
        more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"{first.severity}: {first.message}{more} -> {first.fix}"

    @property
    def exit_code(self) -> int:
        if any(p.kind == "inconsistent" for p in self.problems):
            return EXIT_INCONSISTENT
        if self.problems:
            return EXIT_FAILURE
        return EXIT_OK
