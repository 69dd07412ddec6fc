"""Every Parameter Store name the project uses, in one place.

The rotation function writes these names and every consumer reads them, so both import this module:
a rename can never leave the writer and the readers disagreeing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Color = Literal["blue", "green"]
Role = Literal["writer", "reader"]

COLORS: tuple[Color, Color] = ("blue", "green")
ROLES: tuple[Role, Role] = ("writer", "reader")

_PREFIX_RE = re.compile(r"^(/[A-Za-z0-9_.\-]+)+$")


def other_color(color: Color) -> Color:
    """The color a rotation moves to: the one not named."""
    return "green" if color == "blue" else "blue"


def parse_color(value: str) -> Color:
    """Reads a flag value; anything but the two colors is a corrupted flag, not a third color."""
    if value == "blue":
        return "blue"
    if value == "green":
        return "green"
    raise ValueError(f"blue-green flag holds {value!r}, expected 'blue' or 'green'")


def resolve_prefix(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The parameter prefix: an explicit value wins, then PARAMETER_PREFIX, then /db/{ENV}.

    Explicit-beats-environment mirrors Powertools, so a secret's own ``parameterPrefix`` lets one
    function serve many databases.
    """
    env = os.environ if environ is None else environ
    prefix = explicit or env.get("PARAMETER_PREFIX") or f"/db/{env.get('ENV') or 'dev'}"
    prefix = prefix.rstrip("/")
    if not _PREFIX_RE.match(prefix):
        raise ValueError(
            f"parameter prefix {prefix!r} is not a Parameter Store path "
            "(expected /segment[/segment...] of letters, digits, '_', '.', '-')"
        )
    return prefix


@dataclass(frozen=True)
class ParameterNames:
    """The names under one prefix: the flag and each color's writer and reader URL."""

    prefix: str

    @classmethod
    def for_prefix(
        cls, explicit: str | None = None, environ: Mapping[str, str] | None = None
    ) -> ParameterNames:
        return cls(resolve_prefix(explicit, environ))

    @property
    def flag(self) -> str:
        return f"{self.prefix}/blue-green-env"

    @property
    def layer_arn(self) -> str:
        """Where the stack writes the latest ``bluegreen_db`` layer version ARN (template.yaml's
        ConsumerLayerArnParameter): other stacks resolve it instead of importing an export."""
        return f"{self.prefix}/bluegreen-db-layer-arn"

    def url(self, color: Color, role: Role) -> str:
        return f"{self.prefix}/{color}/{role}-db-url"

    def all(self) -> list[str]:
        """The flag first, then every URL: the order of a single GetParameters call."""
        return [self.flag] + [self.url(c, r) for c in COLORS for r in ROLES]
