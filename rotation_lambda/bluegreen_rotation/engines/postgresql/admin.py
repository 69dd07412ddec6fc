"""The administrative verbs of a rotation on a PostgreSQL master connection (:class:`~..base.Admin`).

The partner role is created with LOGIN and no password (with SCRAM authentication it cannot log in
until :meth:`PostgreSQLAdmin.set_password` runs, last), its profile is made equal to the source's both
ways (:func:`.profile.plan`), and the password is sent as a SCRAM verifier (:mod:`.password`). Never
is one color made a member of the other: the plan skips such memberships and
:meth:`~PostgreSQLAdmin.partner_problems` refuses a pair that has one.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from ...errors import DatabaseError
from ..base import AccountState
from .catalog import RoleRow, read_accounts
from .connection import Connection, run, run_last
from .ownership import migrate_ownership
from .password import set_password
from .plan import Change, plan
from .profile import SELF, Privilege, RoleProfile
from .rules import MasterFacts, alter_problems, attribute_problems, membership_problems, password_problems

__all__ = ["PostgreSQLAdmin", "lock_key"]

_SHOWN_OBJECTS = 20

_FUNCTION_CHECK = (
    "has_function_privilege(current_user, format('%%I.%%I(%%s)', %s::text, %s::text, %s::text), %s::text)"
)
# has_*_privilege per object kind: the object named the way each function takes it.
_CHECKS = {
    "database": "has_database_privilege(current_user, %s::text, %s::text)",
    "schema": "has_schema_privilege(current_user, %s::text, %s::text)",
    "table": "has_table_privilege(current_user, format('%%I.%%I', %s::text, %s::text), %s::text)",
    "sequence": "has_sequence_privilege(current_user, format('%%I.%%I', %s::text, %s::text), %s::text)",
    "column": "has_column_privilege(current_user, format('%%I.%%I', %s::text, %s::text), %s::text, %s::text)",
    "function": _FUNCTION_CHECK,
    "procedure": _FUNCTION_CHECK,
    "type": "has_type_privilege(current_user, format('%%I.%%I', %s::text, %s::text), %s::text)",
    "foreign server": "has_server_privilege(current_user, %s::text, %s::text)",
    "foreign data wrapper": "has_foreign_data_wrapper_privilege(current_user, %s::text, %s::text)",
    "language": "has_language_privilege(current_user, %s::text, %s::text)",
    "tablespace": "has_tablespace_privilege(current_user, %s::text, %s::text)",
    "parameter": "has_parameter_privilege(current_user, %s::text, %s::text)",
    # has_largeobject_privilege exists from PostgreSQL 17 only: the owner's members may grant.
    "large object": "coalesce((SELECT pg_has_role(current_user, lomowner, 'USAGE') "
    "FROM pg_largeobject_metadata WHERE oid = %s::oid), false)",
}


def lock_key(key: str) -> int:
    """A signed 64-bit advisory lock key derived from the secret's ARN."""
    return int.from_bytes(hashlib.sha256(b"bluegreen:" + key.encode()).digest()[:8], "big", signed=True)


class PostgreSQLAdmin:
    """A master connection and the verbs of one rotation."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._version = conn.info.server_version
        self._master: _MasterRead | None = None

    def _rows(
        self, statement: str | sql.Composable, args: Any = None, context: str = ""
    ) -> list[tuple[Any, ...]]:
        return run(self._conn, statement, args, context=context)

    # --- reading --------------------------------------------------------------------------------

    def account_states(self, *users: str) -> dict[str, AccountState | None]:
        """Every user's role and whole profile, with what it owns, in one query."""
        accounts = read_accounts(self._conn, users)
        return {u: AccountState(u, accounts[u][1], accounts[u][0]) if u in accounts else None for u in users}

    def master_facts(self, roles: Iterable[str] = ()) -> MasterFacts:
        """The master's attributes and which of ``roles`` it administers (one query).

        Kept until this admin next changes something, so the checks of one setSecret (the
        partner's, then the source's) and the password's hashing share one read.
        """
        wanted = frozenset(roles)
        if self._master is not None and wanted <= self._master.roles:
            return self._master.facts
        return self._read_master_facts(wanted).facts

    def _read_master_facts(
        self, roles: frozenset[str], privileges: frozenset[Privilege] = frozenset()
    ) -> _MasterRead:
        """With ``privileges``, which of them the master may not grant, in the same query."""
        listed, checks, check_args = _grant_checks(privileges)
        ungrantable_column = (
            sql.SQL(", ARRAY({})").format(sql.SQL(" UNION ALL ").join(checks)) if checks else sql.SQL("")
        )
        row = self._rows(
            sql.SQL(
                """
            SELECT current_user, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
                   coalesce(current_setting('rds.restrict_password_commands', true), 'off')
                     IN ('on', '1', 'true'),
                   coalesce((SELECT pg_has_role(current_user, p.oid, 'MEMBER') FROM pg_roles p
                              WHERE p.rolname = 'rds_password'), false),
                   ARRAY(SELECT o.rolname FROM pg_roles o WHERE o.rolname = ANY(%s)
                            AND pg_has_role(current_user, o.oid, 'MEMBER WITH ADMIN OPTION')),
                   ARRAY(SELECT o.rolname FROM pg_roles o WHERE o.rolname = ANY(%s) AND o.rolsuper),
                   current_setting('password_encryption'){ungrantable}
              FROM pg_roles r WHERE r.rolname = current_user
            """
            ).format(ungrantable=ungrantable_column),
            (list(roles), list(roles), *check_args),
            context="reading the master's attributes",
        )[0]
        facts = MasterFacts(
            name=row[0],
            server_version=self._version,
            superuser=row[1],
            createrole=row[2],
            createdb=row[3],
            replication=row[4],
            bypassrls=row[5],
            restrict_password_commands=row[6],
            rds_password_member=row[7],
            admin_of=frozenset(row[8]),
            superuser_roles=frozenset(row[9]),
            password_encryption=str(row[10]),
        )
        ungrantable = tuple(listed[int(i)] for i in row[11]) if checks else ()
        self._master = _MasterRead(roles, privileges, facts, ungrantable)
        return self._master

    def unreproducible(self, source: AccountState) -> list[str]:
        """What this master cannot give the partner, each with its fix; changes nothing.

        Objects the source owns come first: two roles cannot own one object, so a partner could not
        do with them what the source does (ALTER, DROP, GRANT), and objects either color creates would
        be invisible to the other. The fix is a shared NOLOGIN owner role both colors are members of.
        """
        role, profile = _role(source), _profile(source)
        problems = self._ownership_problems(role)
        for database, owns in role.other_databases:
            what = "owns objects" if owns else "holds privileges or policies"
            problems.append(
                f"{role.name} {what} in database {database}, and the rotation reads the profile only in "
                f"{self._conn.info.dbname}; fix: move them to {self._conn.info.dbname} or revoke them there"
            )
        master = self.master_facts(m.role for m in profile.memberships)
        problems += attribute_problems(profile.attribute_map, master, role.name)
        problems += membership_problems(profile.memberships, master, role.name)
        problems += password_problems(master)
        problems += [
            f"GRANT {p} TO <partner>: the master {master.name} does not hold it WITH GRANT OPTION nor owns "
            f"the object through a membership; fix: GRANT <the object's owner role> TO {master.name}, or "
            f"REVOKE {p.revoke_text} FROM {role.name}"
            for p in self._ungrantable(profile.privileges, master)
        ]
        for owner in sorted({d.owner for d in profile.default_privileges if d.owner != SELF}):
            if not self._member_of(owner):
                problems.append(
                    f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} ... TO <partner>: the master "
                    f"{master.name} is not a member of {owner}; fix: GRANT {owner} TO {master.name}"
                )
        for policy in sorted(profile.policies):
            table_owner = self._table_owner(policy.schema, policy.table)
            if table_owner is not None and not self._member_of(table_owner):
                problems.append(
                    f"ALTER POLICY {policy.name} ON {policy.schema}.{policy.table} TO ..., <partner>: only "
                    f"the table's owner {table_owner} may; fix: GRANT {table_owner} TO {master.name}"
                )
        return problems

    def _ownership_problems(self, role: RoleRow) -> list[str]:
        owned = role.owned
        if not owned:
            return []
        shown = ", ".join(owned[:_SHOWN_OBJECTS]) + (
            f" and {len(owned) - _SHOWN_OBJECTS} more" if len(owned) > _SHOWN_OBJECTS else ""
        )
        owner = f"{role.name}_owner"
        return [
            f"{role.name} owns {shown}: two roles cannot own one object, so its partner could not use them "
            f"as {role.name} does; fix: `bluegreen adopt --shared-owner {owner}` (a shared NOLOGIN owner "
            f"role, by hand: CREATE ROLE {owner} NOLOGIN; REASSIGN OWNED BY {role.name} TO {owner}; "
            f"GRANT {owner} TO {role.name}, <partner>; ALTER ROLE {role.name} SET role = '{owner}', so "
            "new objects are the owner's; the rotation gives the partner the same membership and setting)"
        ]

    def _ungrantable(self, privileges: frozenset[Privilege], master: MasterFacts) -> list[Privilege]:
        if master.superuser or not privileges:
            return []
        read = self._master
        if read is None or read.privileges != privileges:
            read = self._read_master_facts(self._master.roles if self._master else frozenset(), privileges)
        return list(read.ungrantable)

    def _member_of(self, role: str) -> bool:
        rows = self._rows(
            "SELECT pg_has_role(current_user, oid, 'USAGE') FROM pg_roles WHERE rolname = %s", (role,)
        )
        return bool(rows and rows[0][0])

    def _table_owner(self, schema: str, table: str) -> str | None:
        rows = self._rows(
            "SELECT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = %s",
            (schema, table),
        )
        return str(rows[0][0]) if rows else None

    def partner_problems(self, source: AccountState, partner: AccountState | None) -> list[str]:
        """A partner that is a member of the source (or the reverse), owns objects, cannot log in, or
        that this master may not alter, cannot be the source's twin."""
        if partner is None:
            return []
        s, p = _role(source), _role(partner)
        problems = []
        if s.name in p.read_with and p.name in s.read_with:
            inside, outside = s.name in p.member_of, p.name in s.member_of
        else:
            inside, outside = self._rows(
                "SELECT pg_has_role(%s::oid, %s::oid, 'MEMBER'), pg_has_role(%s::oid, %s::oid, 'MEMBER')",
                (p.oid, s.oid, s.oid, p.oid),
            )[0]
        if inside:
            problems.append(
                f"{p.name} is a member of {s.name}: the colors must not share a role's identity; fix: "
                f"REVOKE {s.name} FROM {p.name}"
            )
        if outside:
            problems.append(
                f"{s.name} is a member of {p.name}: the colors must not share a role's identity; fix: "
                f"REVOKE {p.name} FROM {s.name}"
            )
        owned = p.owned
        if owned:
            problems.append(
                f"{p.name} owns {', '.join(owned[:_SHOWN_OBJECTS])}: the partner must own nothing; fix: "
                f"REASSIGN OWNED BY {p.name} TO <the shared owner role>"
            )
        if not p.can_login:
            problems.append(f"{p.name} cannot log in (NOLOGIN); fix: ALTER ROLE {p.name} LOGIN")
        # With the roles unreproducible() asks about next, so both checks share one read.
        asked = frozenset({p.name, *(m.role for m in _profile(source).memberships)})
        if self._master is None or not asked <= self._master.roles:
            self._read_master_facts(asked, _profile(source).privileges)
        problems += alter_problems(p.name, self.master_facts(asked))
        return problems

    # --- changing -------------------------------------------------------------------------------

    def migrate_ownership(self, user: str, partner: str | None, owner: str, *, dry_run: bool) -> list[str]:
        """The shared-owner migration :meth:`unreproducible` names (:mod:`.ownership`), in this database."""
        self._master = None
        return migrate_ownership(self._conn, user=user, partner=partner, owner=owner, dry_run=dry_run)

    def create_partner(self, source: AccountState, user: str) -> AccountState:
        """``CREATE ROLE user LOGIN`` with no password: SCRAM logins fail until the real one is set."""
        self._master = None
        exists = self._rows("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,))
        if not exists:
            self._rows(
                sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(user)), context=f"CREATE ROLE {user}"
            )
        state = self.account_states(user)[user]
        if state is None:
            raise DatabaseError(f"role {user!r} was created but cannot be read back")
        return state

    def clone_profile(self, source: AccountState, target: AccountState) -> list[str]:
        """Makes ``target`` equal ``source``, both ways; the kinds of change made.

        Default privileges FOR the partner need the master to be a member of it: when it is not, the
        master is made one for these statements and the membership is revoked right after.

        The plan goes in one message (:func:`.connection.run_last`): the server runs it as one
        implicit transaction, so it applies whole or not at all. When it fails, the statements are
        run again one by one, so the error names the one the server refuses.
        """
        changes = plan(_profile(target), _profile(source), target_role=target.user, source_role=source.user)
        if not changes:
            return []
        needs_self_grant = any(c.as_member_of == target.user for c in changes) and not self._member_of(
            target.user
        )
        me = sql.Identifier(target.user)
        grant = sql.SQL("GRANT {} TO CURRENT_USER").format(me)
        revoke = sql.SQL("REVOKE {} FROM CURRENT_USER").format(me)
        statements = [c.statement for c in changes]
        if needs_self_grant:
            statements = [grant, *statements, revoke]
        try:
            run_last(self._conn, sql.SQL("; ").join(statements), context=f"syncing {target.user}'s profile")
        except DatabaseError:
            self._clone_one_by_one(changes, source.user, target.user, needs_self_grant=needs_self_grant)
        return [c.kind for c in changes]

    def _clone_one_by_one(
        self, changes: list[Change], source: str, target: str, *, needs_self_grant: bool
    ) -> None:
        """The plan a statement per round trip, so a failure names its statement."""
        me = sql.Identifier(target)
        if needs_self_grant:
            self._rows(
                sql.SQL("GRANT {} TO CURRENT_USER").format(me), context=f"GRANT {target} TO the master"
            )
        try:
            for change in changes:
                shown = change.statement.as_string(self._conn)
                self._rows(change.statement, context=f"cannot give {target} what {source} has: {shown}")
        finally:
            if needs_self_grant:
                self._rows(
                    sql.SQL("REVOKE {} FROM CURRENT_USER").format(me),
                    context=f"REVOKE {target} FROM the master",
                )

    def set_password(self, source: AccountState, target: AccountState, password: str) -> None:
        """The SCRAM verifier, computed here, is all the server receives (:mod:`.password`)."""
        encryption = self._master.facts.password_encryption if self._master else None
        set_password(self._conn, target.user, password, password_encryption=encryption)

    def count_sessions(self, user: str) -> int:
        rows = self._rows(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (user,), "counting sessions"
        )
        return int(rows[0][0])

    @contextlib.contextmanager
    def rotation_lock(self, key: str) -> Iterator[bool]:
        """A session advisory lock per secret: yields False when another session holds it.

        Released when the block succeeds. After a failure the connection may be what failed, and an
        unlock on it would replace the real cause: the server frees the lock when the admin's
        connection closes, which its context does on exit.
        """
        lock = lock_key(key)
        acquired = bool(
            self._rows("SELECT pg_try_advisory_lock(%s)", (lock,), "taking the rotation lock")[0][0]
        )
        yield acquired
        if acquired:
            self._rows("SELECT pg_advisory_unlock(%s)", (lock,), "releasing the rotation lock")


@dataclass(frozen=True)
class _MasterRead:
    """One read of the master's facts: for which roles, and which of ``privileges`` it may not grant."""

    roles: frozenset[str]
    privileges: frozenset[Privilege]
    facts: MasterFacts
    ungrantable: tuple[Privilege, ...]


def _grant_checks(privileges: Iterable[Privilege]) -> tuple[list[Privilege], list[sql.Composable], list[Any]]:
    """The privileges in order and, per privilege, ``SELECT <its index> WHERE NOT <the master may
    grant it>`` with its bound values."""
    checks: list[sql.Composable] = []
    args: list[Any] = []
    listed = sorted(privileges)
    for i, p in enumerate(listed):
        check = _CHECKS[p.kind]
        with_option = f"{p.privilege} WITH GRANT OPTION"
        values: list[Any] = [int(p.target[0])] if p.kind == "large object" else [*p.target, with_option]
        checks.append(sql.SQL("SELECT %s WHERE NOT " + check))  # fixed text; values bound
        args += [i, *values]
    return listed, checks, args


def _role(state: AccountState) -> RoleRow:
    if not isinstance(state.detail, RoleRow):
        raise TypeError(f"{state.user!r} was not read by the PostgreSQL engine")
    return state.detail


def _profile(state: AccountState) -> RoleProfile:
    if not isinstance(state.profile, RoleProfile):
        raise TypeError(f"{state.user!r} was not read by the PostgreSQL engine")
    return state.profile
