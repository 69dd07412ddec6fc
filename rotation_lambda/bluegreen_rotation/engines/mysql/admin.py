"""The master user's verbs on MySQL and MariaDB (:class:`MySQLAdmin`, implementing ``base.Admin``).

Where MariaDB and MySQL 8 / Aurora MySQL 3 differ, the statements come from the server's dialect
(:mod:`.dialects`, chosen from the greeting's version string); the account profile they read and
write is :mod:`.profile`. Everywhere:
- every value (user, host, password, lock name, TLS values, limits) is a bound parameter; user and
  host are string literals in ``CREATE USER``/``ALTER USER``/``GRANT``, so they bind like any value;
- privileges are cloned from the server's own ``SHOW GRANTS`` text, tokenized so quoted names (and
  escaped wildcards such as ``my\\_db``) stay exactly as printed; no password hash is ever copied;
- the password is set with the source's authentication plugin, after everything else.

An :class:`AccountState` of this engine holds an :class:`.profile.AccountProfile` and, as its
``detail``, the :class:`.profile.Account` (user and host part).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import secrets
from collections.abc import Iterator
from typing import Any

import pymysql
from pymysql.connections import Connection
from pymysql.constants import ER

from ...errors import DatabaseError
from ..base import AccountState, Endpoint
from .connection import connect, database_error, dialect_of, text
from .dialects import Dialect
from .dialects.mysql8 import role_name
from .plan import plan
from .profile import Account, AccountProfile, ObjectRef, ProfileError, referenced_objects

__all__ = ["MySQLAdmin", "account_of", "profile_of"]

_LABEL_RE = re.compile(r"[A-Za-z_]+")


def account_of(state: AccountState) -> Account:
    """The MySQL account (user and host part) an account state of this engine carries."""
    if not isinstance(state.detail, Account):
        raise TypeError(f"account state of {state.user!r} was not read by the MySQL engine")
    return state.detail


def profile_of(state: AccountState) -> AccountProfile:
    """The MySQL account profile an account state of this engine carries."""
    if not isinstance(state.profile, AccountProfile):
        raise TypeError(f"account state of {state.user!r} was not read by the MySQL engine")
    return state.profile


def _state(account: Account, profile: AccountProfile) -> AccountState:
    return AccountState(account.user, profile, account)


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


class MySQLAdmin:
    """A master-user connection and the administrative verbs of a rotation (``base.Admin``)."""

    def __init__(self, conn: Connection[Any]) -> None:
        self._conn = conn

    @classmethod
    @contextlib.contextmanager
    def open(
        cls, endpoint: Endpoint, user: str, password: str, database: str | None = None
    ) -> Iterator[MySQLAdmin]:
        """A master connection, closed on exit."""
        with contextlib.closing(connect(endpoint, user, password, database)) as conn:
            yield cls(conn)

    def _rows(self, sql: str, args: Any = None, *, sensitive: bool = False) -> list[tuple[Any, ...]]:
        try:
            with self._conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        except pymysql.err.MySQLError as exc:
            verb = " ".join(_LABEL_RE.findall(sql)[:2])
            secrets_in_args = [str(a) for a in (args or ()) if isinstance(a, str)] if sensitive else None
            raise database_error(exc, f"{verb} failed", secrets=secrets_in_args) from None

    def _execute(self, sql: str, args: Any = None, *, sensitive: bool = False) -> None:
        self._rows(sql, args, sensitive=sensitive)

    def create_partner(self, source: AccountState, user: str) -> AccountState:
        """Creates ``user`` with the source's host part and a throwaway password: the real one is set
        last, so a login with the pending password proves every earlier part of setSecret was done.
        Its profile is read back, for :meth:`clone_profile` to start from."""
        account = Account(user, account_of(source).host)
        self._execute(
            "CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s",
            (account.user, account.host, secrets.token_urlsafe(32)),
            sensitive=True,
        )
        return _state(account, self.profile(account))

    def partner_problems(self, source: AccountState, partner: AccountState | None) -> list[str]:
        """A partner with another host part than the source's cannot be its twin (clients connecting
        from some host would be refused as one color and not the other); read-only."""
        if partner is None:
            return []
        mine, theirs = account_of(source), account_of(partner)
        if mine.host == theirs.host:
            return []
        return [
            f"user {theirs.user!r} exists with host {theirs.host!r} but {mine.user!r} "
            f"has {mine.host!r}; drop or rename one so they match"
        ]

    def count_sessions(self, user: str) -> int:
        rows = self._rows("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s", (user,))
        return int(rows[0][0])

    @functools.cached_property
    def dialect(self) -> Dialect:
        """The engine's dialect, from the version string of the server's greeting (no round trip)."""
        return dialect_of(self._conn)

    def account_states(self, *users: str) -> dict[str, AccountState | None]:
        """Each user's single account and profile: one query for the accounts (and, on MySQL 8,
        their default roles), then ``SHOW GRANTS`` and ``SHOW CREATE USER`` per existing account."""
        query = self.dialect.accounts_query(users)
        hosts: dict[str, list[str]] = {u: [] for u in users}
        default_roles: dict[str, list[str]] = {u: [] for u in users}
        for user, host, role_user, role_host in self._rows(query.sql, query.args):
            name = text(user)
            if role_user is None:
                hosts.setdefault(name, []).append(text(host))
            else:
                default_roles.setdefault(name, []).append(role_name(text(role_user), text(role_host)))
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
            states[user] = _state(account, self.profile(account, default_roles.get(user, [])))
        return states

    def profile(self, account: Account, default_roles: list[str] | None = None) -> AccountProfile:
        """The account's profile from the server's own text: ``SHOW GRANTS`` and ``SHOW CREATE USER``."""
        who = (account.user, account.host)
        grant_lines = [text(r[0]) for r in self._rows("SHOW GRANTS FOR %s@%s", who)]
        create_lines = [text(r[0]) for r in self._rows("SHOW CREATE USER %s@%s", who)]
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
        account, profile = account_of(source), profile_of(source)
        problems = self.dialect.plugin_problems(profile, account)
        refs = referenced_objects(profile)
        if refs:
            problems += [_missing_object_problem(ref, account) for ref in self._missing_objects(refs)]
        if profile.roles or profile.proxies:
            mine = self.dialect.parse([text(r[0]) for r in self._rows("SHOW GRANTS")], [])
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
        changes = plan(profile_of(target), profile_of(source), self.dialect.limit_names)
        account, source_account = account_of(target), account_of(source)
        for change in changes:
            statement = self.dialect.render(change, account)
            try:
                with self._conn.cursor() as cur:
                    cur.execute(statement.sql, statement.args)
            except pymysql.err.MySQLError as exc:
                code = exc.args[0] if exc.args else None
                gone = (ER.NONEXISTING_GRANT, ER.NONEXISTING_TABLE_GRANT)
                if change.kind.startswith("revoke") and code in gone:
                    continue
                shown = statement.sql % tuple(self._conn.escape(a) for a in statement.args)
                context = f"cannot give {account} what {source_account} has: {shown}"
                raise database_error(exc, context) from None
        return [c.kind for c in changes]

    def set_password(self, source: AccountState, target: AccountState, password: str) -> None:
        """Sets ``target``'s password with the source's authentication plugin, so it authenticates
        exactly like the source (a bound parameter; a server message quoting it is withheld)."""
        plugin = self.dialect.plugin_of(profile_of(source))
        statement = self.dialect.password_statement(account_of(target), plugin, password)
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
