"""The database URL codec shared by the writer (rotation function) and every reader.

User and password are percent-encoded as RFC 3986 userinfo with ``quote(x, safe="")``, so ``unquote``
and SQLAlchemy's ``make_url`` both give back the exact credentials whatever characters they hold.

A URL may carry TLS options for consumers, which win over ``BLUEGREEN_DB_TLS_*``
(:mod:`bluegreen_db.tls`): ``ssl_mode`` (or ``sslmode``/``tls_mode``: ``disable``, ``require``,
``verify-ca``, ``verify-full``, or MySQL's ``DISABLED``/``REQUIRED``/``VERIFY_CA``/``VERIFY_IDENTITY``)
and ``ssl_ca`` (or ``sslrootcert``/``tls_ca_file``: a CA bundle path). Any other option (client
certificates, ``charset``...) is refused when the URL is parsed, naming the option: a setting the
consumer would silently drop is worse than an error. The rotation function writes URLs without options.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from bluegreen_db.tls import TlsMode, parse_tls_mode

REDACTED = "***"
# A URL written by hand may leave the port out: the engine's default, by the scheme's dialect part.
_DEFAULT_PORTS = {"postgresql": 5432, "postgres": 5432}
_DEFAULT_PORT = 3306
_MODE_KEYS = ("ssl_mode", "sslmode", "tls_mode")
_CA_KEYS = ("ssl_ca", "sslrootcert", "tls_ca_file")


@dataclass(frozen=True)
class DbUrl:
    scheme: str
    username: str
    password: str
    host: str
    port: int
    database: str
    tls_mode: TlsMode | None = None
    tls_ca_file: str | None = None

    def render(self) -> str:
        return (
            build_url(self.scheme, self.username, self.password, self.host, self.port, self.database)
            + self._query()
        )

    def _query(self) -> str:
        options = {"ssl_mode": self.tls_mode, "ssl_ca": self.tls_ca_file}
        present = {k: v for k, v in options.items() if v}
        return f"?{urlencode(present)}" if present else ""

    def redacted(self) -> str:
        """The URL with the password masked: the only form fit for a log line."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return (
            f"{self.scheme}://{quote(self.username, safe='')}:{REDACTED}@{host}:{self.port}/{self.database}"
            + self._query()
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
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.partition("+")[0], _DEFAULT_PORT)
    except ValueError as exc:
        raise ValueError("database URL has an invalid port") from exc
    tls_mode, ca_file = _tls_options(parts.query)
    return DbUrl(
        scheme=parts.scheme,
        username=unquote(parts.username),
        password=unquote(parts.password),
        host=parts.hostname,
        port=port,
        database=unquote(parts.path.lstrip("/")),
        tls_mode=tls_mode,
        tls_ca_file=ca_file,
    )


def _tls_options(query: str) -> tuple[TlsMode | None, str | None]:
    """A query's TLS options; any other option is refused (named, its value never quoted)."""
    mode: TlsMode | None = None
    ca_file: str | None = None
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in _MODE_KEYS:
            mode = parse_tls_mode(value, f"the database URL's {key} option")
        elif key in _CA_KEYS:
            if not value.startswith("/"):
                raise ValueError(f"the database URL's {key} option must be an absolute path")
            ca_file = value
        else:
            raise ValueError(
                f"the database URL has an option the consumers do not support: {key!r} "
                f"(supported: {', '.join(_MODE_KEYS + _CA_KEYS)})"
            )
    return mode, ca_file


def redact(url: str) -> str:
    """Masks the password of any URL-shaped string, even one that does not parse fully."""
    try:
        return parse_url(url).redacted()
    except ValueError:
        scheme, sep, rest = url.partition("://")
        if not sep or "@" not in rest:
            return url if "@" not in url else REDACTED
        return f"{scheme}://{REDACTED}@{rest.rsplit('@', 1)[1]}"
