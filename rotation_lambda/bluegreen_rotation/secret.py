"""The secret model: parse and validate an RDS/Aurora secret, its blue/green pair and its URLs.

Parsing is strict and happens before anything changes, so a malformed secret is rejected with an
error that names the key at fault (never its value: it may be the password).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bluegreen_db.dburl import build_url
from bluegreen_db.naming import COLORS, Color, Role, other_color, resolve_prefix

from .engines import SECRET_ENGINES, engine_for
from .engines.base import Engine
from .errors import InvalidInputError

_USERNAME_RE = re.compile(r"^[A-Za-z0-9_$.\-]+$")
_HOST_RE = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?$"
)
_IPV6_RE = re.compile(r"^[0-9A-Fa-f:.]+$")
_DBNAME_RE = re.compile(r"^[A-Za-z0-9_$\-]{1,64}$")
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_KNOWN_KEYS = {
    "engine",
    "host",
    "port",
    "username",
    "password",
    "dbname",
    "masterarn",
    "readerHost",
    "blueUsername",
    "greenUsername",
    "parameterPrefix",
    "regions",
}


def validate_username(name: str, engine: Engine, key: str = "username") -> str:
    """A user name the engine accepts and that needs no quoting anywhere (URLs, SQL literals, logs).

    Names are ASCII by the pattern, so the engine's limit in bytes is one in characters too.
    """
    if not name:
        raise InvalidInputError(f"secret key {key!r} is empty")
    if len(name.encode()) > engine.max_user_name_bytes:
        raise InvalidInputError(
            f"user name {name!r} ({key}) is {len(name.encode())} characters long;"
            f" {engine.name} allows at most {engine.max_user_name_bytes}"
        )
    if not _USERNAME_RE.match(name):
        raise InvalidInputError(
            f"user name in {key!r} has characters outside letters, digits and '_$.-' "
            "(quotes, backticks, '%' and spaces are refused rather than quoted)"
        )
    return name


def validate_host(host: str, key: str = "host") -> str:
    if not host or not (_HOST_RE.match(host) or (":" in host and _IPV6_RE.match(host))):
        raise InvalidInputError(f"secret key {key!r} is not a host name or IP address")
    return host


def parse_regions(value: Any) -> dict[str, str]:
    """The secret's optional ``regions`` key: ``{"<region>": {"readerHost": "<host>"}}`` → region → host."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInputError("secret key 'regions' must be an object of region → {\"readerHost\": ...}")
    hosts = {}
    for region, entry in value.items():
        if not isinstance(region, str) or not REGION_RE.match(region):
            raise InvalidInputError(f"secret key 'regions' names {region!r}, which is not an AWS region")
        host = entry.get("readerHost") if isinstance(entry, Mapping) else None
        if not isinstance(host, str):
            raise InvalidInputError(f"secret key 'regions.{region}' has no string 'readerHost'")
        hosts[region] = validate_host(host, f"regions.{region}.readerHost")
    return hosts


def _port(value: Any, key: str = "port") -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"secret key {key!r} must be a port number") from None
    if not 0 < port < 65536:
        raise InvalidInputError(f"secret key {key!r} must be between 1 and 65535")
    return port


def _load_object(text: str | None, what: str) -> dict[str, Any]:
    if text is None:
        raise InvalidInputError(f"{what} has no SecretString (binary secrets are not supported)")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        # The message says where, not what: the text may hold a password.
        raise InvalidInputError(f"{what} is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(value, dict):
        raise InvalidInputError(f"{what} must be a JSON object")
    return value


def _str(data: Mapping[str, Any], key: str, what: str, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise InvalidInputError(f"{what} is missing the required key {key!r}")
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} key {key!r} must be a string")
    return value


@dataclass(frozen=True)
class DbSecret:
    """One version of the rotated secret."""

    engine: str
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    masterarn: str
    dbname: str | None
    reader_host: str
    blue_username: str
    green_username: str
    parameter_prefix: str | None
    region_reader_hosts: Mapping[str, str] = field(default_factory=dict)
    """The ``regions`` key: each replica region's own reader endpoint (CONTRACT.md, "Replica regions")."""
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, text: str | None, what: str = "secret") -> DbSecret:
        data = _load_object(text, what)
        engine = _str(data, "engine", what) or ""
        if engine not in SECRET_ENGINES:
            raise InvalidInputError(
                f"{what} engine {engine!r} is not supported (expected one of {', '.join(SECRET_ENGINES)})"
            )
        served_by = engine_for(engine)
        host = validate_host(_str(data, "host", what) or "")
        username = validate_username(_str(data, "username", what) or "", served_by)
        password = _str(data, "password", what) or ""
        masterarn = _str(data, "masterarn", what) or ""
        if not masterarn.startswith("arn:") or ":secretsmanager:" not in masterarn:
            raise InvalidInputError(f"{what} key 'masterarn' is not a Secrets Manager secret ARN")
        dbname = _str(data, "dbname", what, required=False) or served_by.default_dbname
        if dbname is not None and not _DBNAME_RE.match(dbname):
            raise InvalidInputError(f"{what} key 'dbname' is not a plain database name")
        reader = _str(data, "readerHost", what, required=False)
        reader_host = validate_host(reader, "readerHost") if reader else _default_reader(host)
        blue = _str(data, "blueUsername", what, required=False)
        green = _str(data, "greenUsername", what, required=False)
        if blue is None:
            blue = username if username != green else None
            if blue is None:
                raise InvalidInputError(f"{what} names 'username' as greenUsername but has no blueUsername")
        if green is None:
            green = f"{blue}_green"
        validate_username(blue, served_by, "blueUsername")
        validate_username(green, served_by, "greenUsername")
        if blue == green:
            raise InvalidInputError(f"{what} has the same user for blue and green")
        if username not in (blue, green):
            raise InvalidInputError(f"{what} 'username' is neither its blueUsername nor its greenUsername")
        prefix = _str(data, "parameterPrefix", what, required=False)
        if prefix is not None:
            try:
                prefix = resolve_prefix(prefix, {})
            except ValueError as exc:
                raise InvalidInputError(f"{what} key 'parameterPrefix': {exc}") from None
        return cls(
            engine=engine,
            host=host,
            port=_port(data.get("port", served_by.default_port)),
            username=username,
            password=password,
            masterarn=masterarn,
            dbname=dbname,
            reader_host=reader_host,
            blue_username=blue,
            green_username=green,
            parameter_prefix=prefix,
            region_reader_hosts=parse_regions(data.get("regions")),
            extra={k: v for k, v in data.items() if k not in _KNOWN_KEYS},
        )

    @property
    def color(self) -> Color:
        """A version's color is the color whose user name equals its username."""
        return "blue" if self.username == self.blue_username else "green"

    def username_of(self, color: Color) -> str:
        return self.blue_username if color == "blue" else self.green_username

    def next_version(self, password: str) -> DbSecret:
        """The secret for the other color with a new password; the pair is recorded explicitly."""
        return replace(self, username=self.username_of(other_color(self.color)), password=password)

    def same_pair(self, other: DbSecret) -> bool:
        return (self.blue_username, self.green_username) == (other.blue_username, other.green_username)

    def in_region(self, region: str) -> DbSecret:
        """This version as consumers in ``region`` use it: that region's ``readerHost`` when the
        ``regions`` key names one, the writer unchanged (the writer lives in the primary region)."""
        return replace(self, reader_host=self.region_reader_hosts.get(region, self.reader_host))

    def host_for(self, role: Role) -> str:
        return self.host if role == "writer" else self.reader_host

    def url(self, role: Role, scheme: str) -> str:
        return build_url(
            scheme, self.username, self.password, self.host_for(role), self.port, self.dbname or ""
        )

    def to_json(self) -> str:
        data: dict[str, Any] = dict(self.extra)
        data.update(
            {
                "engine": self.engine,
                "host": self.host,
                "port": self.port,
                "username": self.username,
                "password": self.password,
                "masterarn": self.masterarn,
                "blueUsername": self.blue_username,
                "greenUsername": self.green_username,
            }
        )
        if self.dbname is not None:
            data["dbname"] = self.dbname
        if self.reader_host != _default_reader(self.host):
            data["readerHost"] = self.reader_host
        if self.parameter_prefix is not None:
            data["parameterPrefix"] = self.parameter_prefix
        if self.region_reader_hosts:
            data["regions"] = {r: {"readerHost": h} for r, h in self.region_reader_hosts.items()}
        return json.dumps(data)


@dataclass(frozen=True)
class MasterSecret:
    """The admin user that creates users and sets passwords; host/port default to the rotated secret's."""

    username: str
    password: str = field(repr=False)
    host: str
    port: int

    @classmethod
    def parse(cls, text: str | None, rotated: DbSecret) -> MasterSecret:
        what = "master secret"
        data = _load_object(text, what)
        username = _str(data, "username", what) or ""
        limit = engine_for(rotated.engine).max_user_name_bytes
        if len(username.encode()) > limit:
            raise InvalidInputError(f"{what} 'username' is longer than {limit} bytes")
        password = _str(data, "password", what) or ""
        host = _str(data, "host", what, required=False)
        return cls(
            username=username,
            password=password,
            host=validate_host(host) if host else rotated.host,
            port=_port(data["port"]) if data.get("port") not in (None, "") else rotated.port,
        )


def _default_reader(host: str) -> str:
    """An Aurora cluster endpoint's reader is the same name with ``.cluster-`` → ``.cluster-ro-``."""
    if ".cluster-" in host and ".cluster-ro-" not in host:
        return host.replace(".cluster-", ".cluster-ro-", 1)
    return host


__all__ = [
    "COLORS",
    "REGION_RE",
    "DbSecret",
    "MasterSecret",
    "parse_regions",
    "validate_host",
    "validate_username",
]
