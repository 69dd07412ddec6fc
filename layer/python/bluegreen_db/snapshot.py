"""The snapshot: the flag and the URLs as one read of the parameters returned them.

A snapshot is only ever built whole (:meth:`Snapshot.from_values`): the flag's color must come with
both its writer and reader URLs, or the read fails, so a consumer never pairs a flag with URLs from
another read. URLs of the color not in use may be absent (before the first rotation) or malformed
(then ignored with a warning): nothing connects with them.

Nothing here renders a password: the repr masks every URL, and errors name parameters, never values.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from bluegreen_db.dburl import DbUrl, parse_url
from bluegreen_db.errors import ParameterInvalidError, ParameterMissingError
from bluegreen_db.naming import COLORS, ROLES, Color, ParameterNames, Role, parse_color

logger = logging.getLogger(__name__)


def check_role(role: str) -> Role:
    """``role`` as a :data:`Role`; anything but ``writer`` or ``reader`` is refused."""
    for known in ROLES:
        if role == known:
            return known
    raise ValueError(f"role must be 'writer' or 'reader', got {role!r}")


@dataclass(frozen=True, repr=False, eq=False)
class Snapshot:
    """The flag and the URLs as one GetParameters call returned them.

    ``urls`` holds every color whose URLs were present and well-formed; the flag's color always has
    both roles (a refresh that cannot provide them fails instead of producing a snapshot).
    ``generation`` counts the snapshots a consumer has taken (1 for the first) and ``fetched_at`` is
    the consumer's clock when it was taken: both are stamped by the cache that keeps it.
    """

    color: Color
    urls: Mapping[tuple[Color, Role], DbUrl]
    fetched_at: float
    generation: int
    names: ParameterNames

    @classmethod
    def from_values(cls, values: Mapping[str, str], names: ParameterNames) -> Snapshot:
        """The snapshot the parameter ``values`` (name -> value) describe, not yet stamped.

        Raises :class:`ParameterMissingError` / :class:`ParameterInvalidError` naming the parameter
        when the flag or a URL of its color is missing or malformed.
        """
        flag_value = values.get(names.flag)
        if flag_value is None:
            raise ParameterMissingError(
                [names.flag],
                "the blue/green flag is written by the rotation's first finishSecret; check that the "
                f"secret has rotated and that the prefix {names.prefix!r} (PARAMETER_PREFIX / ENV) is right",
            )
        try:
            color = parse_color(flag_value.strip())
        except ValueError as exc:
            raise ParameterInvalidError(f"{names.flag}: {exc}") from None

        urls: dict[tuple[Color, Role], DbUrl] = {}
        for c in COLORS:
            for r in ROLES:
                name = names.url(c, r)
                raw = values.get(name)
                if raw is None:
                    continue
                try:
                    urls[(c, r)] = parse_url(raw)
                except ValueError as exc:
                    if c == color:
                        raise ParameterInvalidError(f"{name}: {exc}") from None
                    logger.warning("ignoring %s of the color not in use: %s", name, exc)
        missing = [names.url(color, r) for r in ROLES if (color, r) not in urls]
        if missing:
            raise ParameterMissingError(
                missing, f"the flag {names.flag} names {color}, so its writer and reader URLs must exist"
            )
        return cls(color=color, urls=urls, fetched_at=0.0, generation=0, names=names)

    def url(self, role: Role = "writer", color: Color | None = None) -> DbUrl:
        """The URL of ``role`` for ``color`` (default: the flag's color)."""
        color = color or self.color
        try:
            return self.urls[(color, check_role(role))]
        except KeyError:
            raise ParameterMissingError(
                [self.names.url(color, role)],
                f"no {role} URL for {color} was found when the flag named {self.color}",
            ) from None

    def __repr__(self) -> str:
        urls = ", ".join(f"{c}/{r}={u.redacted()}" for (c, r), u in sorted(self.urls.items()))
        return f"Snapshot(color={self.color!r}, generation={self.generation}, {urls})"

    __str__ = __repr__
