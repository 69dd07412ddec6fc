"""How a mirrored URL compares with a version of the secret (parsed by the layer's own codec)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bluegreen_db.dburl import parse_url
from bluegreen_db.naming import Role
from bluegreen_rotation.secret import DbSecret

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class UrlCheck:
    """How a URL parameter compares with a version of the secret. ``state``: ok, missing, malformed,
    wrong-user, stale (right user, other password/host/port/database). The scheme is not compared:
    it is the function's DB_URL_SCHEME, which this shell may not share."""

    state: str
    detail: str = ""
    user: str | None = None
    redacted: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == "ok"


def check_url(url: str | None, user: str, role: Role, secret: DbSecret | None) -> UrlCheck:
    """Compares a URL with the color's user and, when known, the version holding that user."""
    if url is None:
        return UrlCheck("missing", "parameter does not exist")
    try:
        parsed = parse_url(url)
    except ValueError as exc:
        return UrlCheck("malformed", str(exc))
    redacted = parsed.redacted()
    if parsed.username != user:
        return UrlCheck(
            "wrong-user", f"holds user {parsed.username!r}, not {user!r}", parsed.username, redacted
        )
    if secret is None:
        return UrlCheck(
            "ok", "no version of the secret to compare the password with", parsed.username, redacted
        )
    differences = []
    if parsed.password != secret.password:
        differences.append("password")
    if (parsed.host, parsed.port) != (secret.host_for(role), secret.port):
        differences.append(
            f"host {parsed.host}:{parsed.port} (expected {secret.host_for(role)}:{secret.port})"
        )
    if parsed.database != (secret.dbname or ""):
        differences.append(f"database {parsed.database!r} (expected {secret.dbname or ''!r})")
    if differences:
        return UrlCheck(
            "stale", "differs from the secret: " + ", ".join(differences), parsed.username, redacted
        )
    return UrlCheck("ok", "", parsed.username, redacted)
