"""All SQL of the project, behind a few verbs (in the manner of Vault's database plugins).

Verbs: ``can_login`` and ``test_login`` for any user; on a master connection (:class:`Admin`):
``user_hosts``, ``create_user``, ``sync_privileges``, ``update_password``, ``count_sessions``,
``grants`` and ``rotation_lock``.

The same statements are right on Aurora MySQL 3 (MySQL 8.0) and MariaDB 10.11:
- every value (user, host, password, lock name) is a bound parameter; user and host are string
  literals in ``CREATE USER``/``ALTER USER``, so they bind like any value;
- privileges are cloned by replaying the server's own ``SHOW GRANTS`` text for the source user
  with only the grantee replaced (so escaped wildcards such as ``my\\_db`` stay exactly as they
  were), after stripping MariaDB's ``IDENTIFIED BY PASSWORD '<hash>'`` clause: no hash is copied;
- TLS requirements (``REQUIRE SSL/X509/...``) come from ``mysql.user`` columns both servers share;
- ``ALTER USER ... IDENTIFIED BY %s`` sets a password on both (no ``SET PASSWORD`` dialects, no
  ``RETAIN CURRENT PASSWORD``, which MariaDB lacks).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import secrets
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pymysql
import pymysql.converters
from pymysql.connections import Connection
from pymysql.constants import ER

from .config import TlsMode
from .errors import DatabaseError

ACCESS_DENIED = ER.ACCESS_DENIED_ERROR  # 1045
_GRANTEE = "{grantee}"
_IDENTIFIED_RE = re.compile(r" IDENTIFIED (?:BY PASSWORD|VIA|WITH) .*?(?= REQUIRE | WITH |$)")
_REQUIRE_RE = re.compile(r" REQUIRE .*?(?= WITH |$)")
_LABEL_RE = re.compile(r"[A-Za-z_]+")
_LIMITS_RE = re.compile(r" WITH (?:MAX_[A-Z_]+ \d+ ?)+$")


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect: TLS mode and CA, and the timeout bounding connect and every read."""

    host: str
    port: int
    tls_mode: TlsMode = "verify-full"
    ca_file: str | None = None
    timeout: float = 5.0


@dataclass(frozen=True)
class Account:
    """A MySQL account: user name and host part (``'app'@'%'``)."""

    user: str
    host: str

    def __str__(self) -> str:
        return f"'{self.user}'@'{self.host}'"


@dataclass(frozen=True)
class TlsRequirement:
    ssl_type: str
    cipher: str
    issuer: str
    subject: str


@dataclass(frozen=True)
class PrivilegeSync:
    granted: tuple[str, ...]
    revoked: tuple[str, ...]


@functools.lru_cache(maxsize=8)
def tls_context(mode: TlsMode, ca_file: str | None) -> ssl.SSLContext | None:
    """The client TLS context for a mode; ``None`` only for ``disable``.

    Every other mode hands pymysql a context, and pymysql then refuses a server without TLS instead
    of falling back to plaintext (checked again in :func:`connect`). Contexts are cached: loading a
    CA bundle costs tens of milliseconds, and one context serves every connection of the process.
    """
    if mode == "disable":
        return None
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if mode == "require":
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif mode == "verify-ca":
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def connect(endpoint: Endpoint, user: str, password: str, database: str | None = None) -> Connection[Any]:
    """Opens one connection; errors carry the server's code and text, never the password."""
    ctx = tls_context(endpoint.tls_mode, endpoint.ca_file)
    try:
        conn: Connection[Any] = pymysql.connect(
            host=endpoint.host,
            port=endpoint.port,
            user=user,
            password=password,
            database=database or None,
            connect_timeout=endpoint.timeout,
            # pymysql reads the server greeting with the *read* timeout: without one, a server that
            # accepts but never answers hangs the function until Lambda kills it.
            read_timeout=endpoint.timeout,
            write_timeout=endpoint.timeout,
            ssl=ctx,
            ssl_disabled=ctx is None,
            autocommit=True,
            charset="utf8mb4",
        )
    except pymysql.err.MySQLError as exc:
        raise _database_error(exc, f"cannot connect to {endpoint.host}:{endpoint.port} as {user!r}") from None
    except (OSError, ssl.SSLError) as exc:
        raise DatabaseError(
            f"cannot connect to {endpoint.host}:{endpoint.port} as {user!r}: {type(exc).__name__}: {exc}"
        ) from None
    if ctx is not None and not isinstance(getattr(conn, "_sock", None), ssl.SSLSocket):
        conn.close()
        raise DatabaseError(
            f"connection to {endpoint.host}:{endpoint.port} is not encrypted; refusing plaintext"
        )
    return conn


def can_login(endpoint: Endpoint, user: str, password: str) -> bool:
    """True when the credentials log in; False on access denied; any other failure raises."""
    try:
        conn = connect(endpoint, user, password)
    except DatabaseError as exc:
        if exc.code == ACCESS_DENIED:
            return False
        raise
    conn.close()
    return True


def test_login(endpoint: Endpoint, user: str, password: str, database: str | None) -> None:
    """Logs in (to the secret's database, when it names one) and runs a query, as a client would."""
    with contextlib.closing(connect(endpoint, user, password, database)) as conn, conn.cursor() as cur:
        try:
            cur.execute("SELECT CURRENT_USER()")
            cur.fetchall()
        except pymysql.err.MySQLError as exc:
            raise _database_error(exc, f"test query as {user!r} failed") from None


class Admin:
    """A master-user connection and the administrative verbs of a rotation."""

    def __init__(self, conn: Connection[Any]) -> None:
        self._conn = conn

    @classmethod
    @contextlib.contextmanager
    def open(cls, endpoint: Endpoint, user: str, password: str) -> Iterator[Admin]:
        with contextlib.closing(connect(endpoint, user, password)) as conn:
            yield cls(conn)

    def _rows(self, sql: str, args: Any = None, *, sensitive: bool = False) -> list[tuple[Any, ...]]:
        try:
            with self._conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        except pymysql.err.MySQLError as exc:
            verb = " ".join(_LABEL_RE.findall(sql)[:2])
            secrets_in_args = [str(a) for a in (args or ()) if isinstance(a, str)] if sensitive else None
            raise _database_error(exc, f"{verb} failed", secrets=secrets_in_args) from None

    def _execute(self, sql: str, args: Any = None, *, sensitive: bool = False) -> None:
        self._rows(sql, args, sensitive=sensitive)

    def user_hosts(self, user: str) -> list[str]:
        return sorted(
            str(row[0]) for row in self._rows("SELECT Host FROM mysql.user WHERE User = %s", (user,))
        )

    def account_of(self, user: str) -> Account | None:
        """The single account of a user name; several host parts are ambiguous and refused."""
        hosts = self.user_hosts(user)
        if len(hosts) > 1:
            raise DatabaseError(
                f"user {user!r} exists with several host parts ({', '.join(hosts)}); "
                "keep exactly one so the partner user can mirror it"
            )
        return Account(user, hosts[0]) if hosts else None

    def create_user(self, account: Account) -> None:
        """Creates the account with a throwaway password: the real one is set last, so a login with
        the pending password proves every earlier part of setSecret has been done."""
        self._execute(
            "CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s",
            (account.user, account.host, secrets.token_urlsafe(32)),
            sensitive=True,
        )

    def update_password(self, account: Account, password: str) -> None:
        self._execute(
            "ALTER USER %s@%s IDENTIFIED BY %s", (account.user, account.host, password), sensitive=True
        )

    def count_sessions(self, user: str) -> int:
        rows = self._rows("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s", (user,))
        return int(rows[0][0])

    def tls_requirement(self, account: Account) -> TlsRequirement:
        rows = self._rows(
            "SELECT ssl_type, ssl_cipher, x509_issuer, x509_subject FROM mysql.user"
            " WHERE User = %s AND Host = %s",
            (account.user, account.host),
        )
        if not rows:
            raise DatabaseError(f"account {account} does not exist")
        return TlsRequirement(*(_text(v) for v in rows[0]))

    def set_tls_requirement(self, account: Account, req: TlsRequirement) -> None:
        base = "ALTER USER %s@%s REQUIRE "
        args: list[str] = [account.user, account.host]
        if req.ssl_type == "ANY":
            self._execute(base + "SSL", args)
        elif req.ssl_type == "X509":
            self._execute(base + "X509", args)
        elif req.ssl_type == "SPECIFIED":
            parts = []
            for clause, value in (("ISSUER", req.issuer), ("SUBJECT", req.subject), ("CIPHER", req.cipher)):
                if value:
                    parts.append(f"{clause} %s")
                    args.append(value)
            self._execute(base + " AND ".join(parts), args)
        else:
            self._execute(base + "NONE", args)

    def grants(self, account: Account) -> list[str]:
        """The account's grants as server text with the grantee replaced by a placeholder.

        Password hashes, TLS requirements and resource limits are cut from the text (the first is
        never copied; the others are compared through ``mysql.user``).
        """
        rows = self._rows("SHOW GRANTS FOR %s@%s", (account.user, account.host))
        return sorted(normalize_grant(str(row[0]), account) for row in rows)

    def sync_privileges(self, source: Account, target: Account) -> PrivilegeSync:
        """Makes ``target``'s privileges and TLS requirement exactly ``source``'s.

        Extra grants are revoked first and missing ones granted after, so a grant line that differs
        only in part (``SELECT`` vs ``SELECT, INSERT`` on one object) ends exactly as the source's.
        """
        wanted = set(self.grants(source))
        have = set(self.grants(target))
        quoted = f"{self._conn.escape(target.user)}@{self._conn.escape(target.host)}"
        revoked = sorted(have - wanted)
        granted = sorted(wanted - have)
        for line in revoked:
            for statement in revoke_statements(line):
                self._execute(statement.replace(_GRANTEE, quoted))
        for line in granted:
            if not is_usage(line):
                self._execute(line.replace(_GRANTEE, quoted))
        req = self.tls_requirement(source)
        if self.tls_requirement(target) != req:
            self.set_tls_requirement(target, req)
        return PrivilegeSync(granted=tuple(granted), revoked=tuple(revoked))

    def privilege_difference(self, source: Account, target: Account) -> tuple[list[str], list[str]]:
        """(missing, extra) grant lines of ``target`` against ``source``, TLS requirement included."""
        wanted = set(self.grants(source))
        have = set(self.grants(target))
        missing, extra = sorted(wanted - have), sorted(have - wanted)
        src_req, dst_req = self.tls_requirement(source), self.tls_requirement(target)
        if src_req != dst_req:
            missing.append(f"REQUIRE {src_req.ssl_type or 'NONE'}")
            extra.append(f"REQUIRE {dst_req.ssl_type or 'NONE'}")
        return missing, extra

    @contextlib.contextmanager
    def rotation_lock(self, key: str) -> Iterator[bool]:
        """A server-side named lock per secret: two setSecret runs never change passwords at once.

        Yields False when another session holds it (the caller refuses); released on exit and, should
        the function die, by the server when the connection drops.
        """
        name = "bluegreen:" + hashlib.sha256(key.encode()).hexdigest()[:40]
        acquired = self._rows("SELECT GET_LOCK(%s, 0)", (name,))[0][0] == 1
        yield acquired
        # Released only when the block succeeded: after a failure the connection may be the very
        # thing that failed (error 2013), and releasing on it would replace the real cause. The
        # server frees named locks when the session ends anyway.
        if acquired:
            self._rows("SELECT RELEASE_LOCK(%s)", (name,))


def normalize_grant(line: str, account: Account) -> str:
    for q in ("`", "'"):
        identity = f"{q}{_quote_ident(account.user, q)}{q}@{q}{_quote_ident(account.host, q)}{q}"
        line = line.replace(f" TO {identity}", f" TO {_GRANTEE}")
    line = _IDENTIFIED_RE.sub("", line)
    if is_usage(line.split(" REQUIRE ")[0]):
        line = _REQUIRE_RE.sub("", line)
        line = _LIMITS_RE.sub("", line)
    return line


def is_usage(line: str) -> bool:
    return line.startswith("GRANT USAGE ON *.* TO ")


def revoke_statements(line: str) -> list[str]:
    """The REVOKE statements that undo one normalized GRANT line (none for the USAGE line)."""
    if is_usage(line):
        return []
    head, sep, tail = line.rpartition(f" TO {_GRANTEE}")
    if not sep or not head.startswith("GRANT "):
        raise DatabaseError(f"cannot revoke a grant of unexpected shape: {line}")
    statements = ["REVOKE " + head[len("GRANT ") :] + f" FROM {_GRANTEE}"]
    if "WITH GRANT OPTION" in tail and " ON " in head:
        obj = head.split(" ON ", 1)[1]
        statements.append(f"REVOKE GRANT OPTION ON {obj} FROM {_GRANTEE}")
    return statements


def _quote_ident(value: str, quote: str) -> str:
    return value.replace(quote, quote * 2) if quote == "`" else value.replace("'", "\\'")


def _appears(secret: str, message: str) -> bool:
    """Whether a password, or a fragment a server would quote of it, is in a message."""
    if len(secret) < 4:
        return False
    escaped = pymysql.converters.escape_string(secret)
    return any(part in message for part in {secret, escaped, secret[:8], escaped[:8]})


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return value.decode()
    return "" if value is None else str(value)


def _database_error(
    exc: pymysql.err.MySQLError, context: str, *, secrets: list[str] | None = None
) -> DatabaseError:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    message = str(exc.args[1]) if len(exc.args) > 1 else type(exc).__name__
    if secrets is not None and (code == ER.PARSE_ERROR or any(_appears(s, message) for s in secrets)):
        # A parse error quotes the statement near the fault, and this statement held a password.
        message = "server message withheld: it quoted a statement that carried a password"
    error = DatabaseError(f"{context}: ({code}) {message}")
    error.code = code
    return error
