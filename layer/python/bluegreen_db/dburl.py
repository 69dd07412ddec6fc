"""The database URL codec shared by the writer (rotation function) and every reader.

User and password are percent-encoded as RFC 3986 userinfo with ``quote(x, safe="")``, so ``unquote``
and SQLAlchemy's ``make_url`` both give back the exact credentials whatever characters they hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

REDACTED = "***"


@dataclass(frozen=True)
class DbUrl:
    scheme: str
    username: str
    password: str
    host: str
    port: int
    database: str

    def render(self) -> str:
        return build_url(self.scheme, self.username, self.password, self.host, self.port, self.database)

    def redacted(self) -> str:
        """The URL with the password masked: the only form fit for a log line."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return (
            f"{self.scheme}://{quote(self.username, safe='')}:{REDACTED}@{host}:{self.port}/{self.database}"
        )

    def __repr__(self) -> str:
        # dataclass's repr would print the password; never let it reach a log or traceback.
        return f"DbUrl({self.redacted()!r})"

    __str__ = __repr__


def build_url(scheme: str, username: str, password: str, host: str, port: int, database: str) -> str:
    netloc_host = f"[{host}]" if ":" in host else host
    return (
        f"{scheme}://{quote(username, safe='')}:{quote(password, safe='')}"
        f"@{netloc_host}:{port}/{quote(database, safe='')}"
    )


def parse_url(url: str) -> DbUrl:
    """Parses a URL written by :func:`build_url`; errors never quote the URL (it holds a password)."""
    parts = urlsplit(url)
    if not parts.scheme or parts.username is None or parts.password is None or not parts.hostname:
        raise ValueError("database URL is malformed (expected scheme://user:password@host:port/db)")
    try:
        port = parts.port or 3306
    except ValueError as exc:
        raise ValueError("database URL has an invalid port") from exc
    return DbUrl(
        scheme=parts.scheme,
        username=unquote(parts.username),
        password=unquote(parts.password),
        host=parts.hostname,
        port=port,
        database=unquote(parts.path.lstrip("/")),
    )


def redact(url: str) -> str:
    """Masks the password of any URL-shaped string, even one that does not parse fully."""
    try:
        return parse_url(url).redacted()
    except ValueError:
        scheme, sep, rest = url.partition("://")
        if not sep or "@" not in rest:
            return url if "@" not in url else REDACTED
        return f"{scheme}://{REDACTED}@{rest.rsplit('@', 1)[1]}"
