"""All SQL of the project, behind a few verbs (in the manner of Vault's database plugins).

Verbs: ``can_login``, ``test_login`` and ``session_facts`` for any user; on a master connection
(:class:`Admin`): ``account_states`` (accounts and their profiles), ``unreproducible``,
``create_user``, ``clone_profile``, ``set_password``, ``count_sessions`` and ``rotation_lock``.

Where MariaDB and MySQL 8 / Aurora MySQL 3 differ, the statements come from the server's dialect
(:mod:`.dialects`, chosen from the greeting's version string); the account profile they read and
write is :mod:`.account_profile`. Everywhere:
- every value (user, host, password, lock name, TLS values, limits) is a bound parameter; user and
  host are string literals in ``CREATE USER``/``ALTER USER``/``GRANT``, so they bind like any value;
- privileges are cloned from the server's own ``SHOW GRANTS`` text, tokenized so quoted names (and
  escaped wildcards such as ``my\\_db``) stay exactly as printed; no password hash is ever copied;
- the password is set with the source's authentication plugin, after everything else.
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

from bluegreen_db.tls import TlsMode, client_context

from .account_profile import (
    Account,
    AccountProfile,
    ObjectRef,
    ProfileError,
    as_set,
    plan,
    referenced_objects,
)
from .account_profile import normalize_session_grant as _normalize_session_grant
from .dialects import Dialect, dialect_for
from .dialects.mysql8 import role_name
from .errors import DatabaseError

__all__ = ["Account", "AccountState", "Admin", "Endpoint", "SessionFacts"]

ACCESS_DENIED = ER.ACCESS_DENIED_ERROR  # 1045
_LABEL_RE = re.compile(r"[A-Za-z_]+")


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect: TLS mode and CA, and the timeout bounding connect and every read."""

    host: str
    port: int
    tls_mode: TlsMode = "verify-full"
    ca_file: str | None = None
    timeout: float = 5.0


@dataclass(frozen=True)
class AccountState:
    """An existing account and its profile, as read from the server."""

    account: Account
    profile: AccountProfile


@dataclass(frozen=True)
class SessionFacts:
    """What a session of a user reports about itself: what a client notices after a flip."""

    values: dict[str, str]  # the dialect's probe: active role(s), engine extras
    grants: frozenset[str]  # SHOW GRANTS without FOR, own account name replaced

    def differences(self, other: SessionFacts, *, mine: str, theirs: str) -> list[str]:
        out = [
            f"session {name}: {mine} {value}, {theirs} {other.values.get(name)}"
            for name, value in sorted(self.values.items())
            if other.values.get(name) != value
        ]
        out += [f"session grant only {mine} has: {g}" for g in sorted(self.grants - other.grants)]
        out += [f"session grant only {theirs} has: {g}" for g in sorted(other.grants - self.grants)]
        return out


def tls_context(mode: TlsMode, ca_file: str | None) -> ssl.SSLContext | None:
    """The client TLS context for a mode (the layer's, so the function and its consumers agree).

    Every mode but ``disable`` hands pymysql a context, and pymysql then refuses a server without TLS
    instead of falling back to plaintext (checked again in :func:`connect`).
    """
    return client_context(mode, ca_file)


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


def session_facts(endpoint: Endpoint, user: str, password: str, database: str | None) -> SessionFacts:
    """Logs in as a client would and asks the session what it is: its active roles, engine extras
    (MariaDB's per-user max_statement_time) and effective grants (``SHOW GRANTS`` without FOR)."""
    with contextlib.closing(connect(endpoint, user, password, database)) as conn, conn.cursor() as cur:
        dialect = _dialect_of(conn)
        try:
            cur.execute(dialect.session_probe)
            row = cur.fetchone() or ()
            cur.execute("SHOW GRANTS")
            lines = [_text(r[0]) for r in cur.fetchall()]
        except pymysql.err.MySQLError as exc:
            raise _database_error(exc, f"test query as {user!r} failed") from None
    who = _text(row[0]) if row else ""
    name, _, host = who.rpartition("@")
    values = {k: as_set(_text(v)) for k, v in zip(dialect.session_probe_names, row[1:], strict=False)}
    return SessionFacts(values, frozenset(_normalize_session_grant(g, Account(name, host)) for g in lines))


def _dialect_of(conn: Connection[Any]) -> Dialect:
    version = getattr(conn, "server_version", "")  # set from the greeting; not in pymysql's stubs
    try:
        return dialect_for(version.decode() if isinstance(version, bytes) else str(version))
    except ValueError as exc:
        raise DatabaseError(str(exc)) from None


def _missing_object_problem(ref: ObjectRef, account: Account) -> str:
    if ref.kind == "column":
        obj = f"`{ref.schema}`.`{ref.name}`"
        what = f"column {ref.column!r} of {obj} no longer exists"
    elif ref.kind == "table":
        obj = f"`{ref.schema}`.`{ref.name}`"
        what = "the table no longer exists"
    else:
        obj = f"{ref.kind.upper()} `{ref.schema}`.`{ref.name}`"
        what = f"the {ref.kind} no longer exists"
    return f"GRANT {ref.grant} ON {obj} TO {account}: {what}; fix: REVOKE {ref.grant} ON {obj} FROM {account}"


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

    def create_user(self, account: Account) -> None:
        """Creates the account with a throwaway password: the real one is set last, so a login with
        the pending password proves every earlier part of setSecret has been done."""
        self._execute(
            "CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s",
            (account.user, account.host, secrets.token_urlsafe(32)),
            sensitive=True,
        )

    def count_sessions(self, user: str) -> int:
        rows = self._rows("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s", (user,))
        return int(rows[0][0])

    @functools.cached_property
    def dialect(self) -> Dialect:
        """The engine's dialect, from the version string of the server's greeting (no round trip)."""
        return _dialect_of(self._conn)

    def account_states(self, *users: str) -> dict[str, AccountState | None]:
        """Each user's single account and profile: one query for the accounts (and, on MySQL 8,
        their default roles), then ``SHOW GRANTS`` and ``SHOW CREATE USER`` per existing account."""
        query = self.dialect.accounts_query(users)
        hosts: dict[str, list[str]] = {u: [] for u in users}
        default_roles: dict[str, list[str]] = {u: [] for u in users}
        for user, host, role_user, role_host in self._rows(query.sql, query.args):
            name = _text(user)
            if role_user is None:
                hosts.setdefault(name, []).append(_text(host))
            else:
                default_roles.setdefault(name, []).append(role_name(_text(role_user), _text(role_host)))
        states: dict[str, AccountState | None] = {}
        for user in users:
            found = sorted(hosts.get(user, []))
            if len(found) > 1:
                raise DatabaseError(
                    f"user {user!r} exists with several host parts ({', '.join(found)}); "
                    "keep exactly one so the partner user can mirror it"
                )
            if not found:
                states[user] = None
                continue
            account = Account(user, found[0])
            states[user] = AccountState(account, self.profile(account, default_roles.get(user, [])))
        return states

    def profile(self, account: Account, default_roles: list[str] | None = None) -> AccountProfile:
        """The account's profile from the server's own text: ``SHOW GRANTS`` and ``SHOW CREATE USER``."""
        who = (account.user, account.host)
        grant_lines = [_text(r[0]) for r in self._rows("SHOW GRANTS FOR %s@%s", who)]
        create_lines = [_text(r[0]) for r in self._rows("SHOW CREATE USER %s@%s", who)]
        try:
            return self.dialect.parse(grant_lines, create_lines, default_roles or ())
        except ProfileError as exc:
            raise DatabaseError(f"cannot read the profile of {account}: {exc}") from None

    def unreproducible(self, source: AccountState) -> list[str]:
        """What of the source's profile this master user cannot give the partner, each with its fix.

        Read-only (so ``bluegreen status`` can ask too): the authentication plugin, tables, columns
        and routines that grants name but that no longer exist (the GRANT would fail with 1146/1054),
        roles the master cannot grant, PROXY grants it lacks. At most two queries, only when the
        profile has such grants.
        """
        account, profile = source.account, source.profile
        problems = self.dialect.plugin_problems(profile, account)
        refs = referenced_objects(profile)
        if refs:
            problems += [_missing_object_problem(ref, account) for ref in self._missing_objects(refs)]
        if profile.roles or profile.proxies:
            mine = self.dialect.parse([_text(r[0]) for r in self._rows("SHOW GRANTS")], [])
            for role in sorted(profile.roles):
                if self.dialect.master_can_grant_role(mine, role) is False:
                    problems.append(
                        f"GRANT {role} TO {account}: the master user does not hold {role} WITH ADMIN "
                        f"OPTION; fix: grant it that (GRANT {role} TO <master> WITH ADMIN OPTION), or "
                        f"REVOKE {role} FROM {account}"
                    )
            for target in sorted(profile.proxies):
                if not self.dialect.master_can_grant_proxy(mine, target):
                    problems.append(
                        f"GRANT PROXY ON {target} TO {account}: the master user lacks PROXY ON {target} "
                        f"WITH GRANT OPTION; fix: GRANT PROXY ON {target} TO <master> WITH GRANT OPTION "
                        f"(as a user holding it), or REVOKE PROXY ON {target} FROM {account}"
                    )
        return problems

    def _missing_objects(self, refs: list[ObjectRef]) -> list[ObjectRef]:
        """The referenced objects that do not exist, in one query (a UNION of existence checks)."""
        parts, args = [], []
        for i, ref in enumerate(refs):
            if ref.kind == "table":
                check = "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"
                args += [i, ref.schema, ref.name]
            elif ref.kind == "column":
                check = (
                    "SELECT 1 FROM information_schema.COLUMNS"
                    " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND COLUMN_NAME = %s"
                )
                args += [i, ref.schema, ref.name, ref.column]
            else:
                check = (
                    "SELECT 1 FROM information_schema.ROUTINES"
                    " WHERE ROUTINE_SCHEMA = %s AND ROUTINE_NAME = %s AND ROUTINE_TYPE = %s"
                )
                args += [i, ref.schema, ref.name, ref.kind.upper()]
            # Only fixed SQL text is formatted in; every value is a bound parameter.
            parts.append(f"SELECT %s FROM DUAL WHERE NOT EXISTS ({check})")  # nosec B608
        rows = self._rows(" UNION ALL ".join(parts), args)
        return [refs[int(r[0])] for r in rows]

    def clone_profile(self, source: AccountState, target: AccountState) -> list[str]:
        """Makes ``target``'s profile the source's, all but the plugin (the password sets it, last).

        Returns the kinds of change made. A statement the server refuses fails with the statement
        (which carries no secret) named; revoking a grant the server says does not exist is done.
        """
        changes = plan(target.profile, source.profile, self.dialect.limit_names)
        for change in changes:
            statement = self.dialect.render(change, target.account)
            try:
                with self._conn.cursor() as cur:
                    cur.execute(statement.sql, statement.args)
            except pymysql.err.MySQLError as exc:
                code = exc.args[0] if exc.args else None
                gone = (ER.NONEXISTING_GRANT, ER.NONEXISTING_TABLE_GRANT)
                if change.kind.startswith("revoke") and code in gone:
                    continue
                shown = statement.sql % tuple(self._conn.escape(a) for a in statement.args)
                context = f"cannot give {target.account} what {source.account} has: {shown}"
                raise _database_error(exc, context) from None
        return [c.kind for c in changes]

    def set_password(self, account: Account, plugin: str, password: str) -> None:
        """Sets the password with ``plugin`` (the source's): the partner authenticates like it."""
        statement = self.dialect.password_statement(account, plugin, password)
        self._execute(statement.sql, statement.args, sensitive=True)

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
