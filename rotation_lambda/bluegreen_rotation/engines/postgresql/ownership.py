"""The one-time move of a role's objects to a shared NOLOGIN owner role, so blue and green can rotate.

Two roles cannot own one object, so a role that owns tables cannot get a twin: ``unreproducible``
refuses it and names this migration. The migration makes the objects the shared owner's and both
colors members of it, and sets the current role's ``role`` so that what its sessions create is the
owner's too (the rotation then gives the partner the same membership and setting):

    CREATE ROLE owner NOLOGIN                      -- when missing
    REASSIGN OWNED BY current TO owner             -- when current owns something here
    GRANT owner TO current [, partner]             -- for whichever is not a member yet
    ALTER ROLE current SET role = 'owner'          -- unless already set

``REASSIGN OWNED`` needs the master to hold the privileges of both roles. A master that does not
(PostgreSQL 15's CREATEROLE; PostgreSQL 16's ADMIN OPTION without SET) grants itself the role for the
statement and revokes it right after, each listed. All statements run in one transaction (role and
ownership DDL is transactional in PostgreSQL), so a failure leaves nothing half done. Every step is
checked first, so a second run lists and runs nothing; a dry run only lists.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from ...errors import InvalidInputError, RotationRefusedError
from .catalog import owned_objects
from .connection import Connection, run

__all__ = ["OwnershipPlan", "migrate_ownership", "plan_ownership"]

_MAX_ROLE_NAME_BYTES = 63


@dataclass(frozen=True)
class OwnershipPlan:
    """The statements still needed, in order; empty when the migration is complete."""

    statements: tuple[sql.Composable, ...]


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


def validate_owner_name(owner: str) -> None:
    """A role name PostgreSQL accepts for a role an operator creates (``pg_`` is reserved)."""
    if not owner or "\x00" in owner or len(owner.encode()) > _MAX_ROLE_NAME_BYTES:
        raise InvalidInputError(f"shared owner role name {owner!r} must be 1 to 63 bytes")
    if owner.lower().startswith("pg_"):
        raise InvalidInputError(f"shared owner role name {owner!r}: the prefix pg_ is reserved")


def _role_row(conn: Connection, name: str) -> tuple[int, bool, bool] | None:
    rows = run(
        conn,
        "SELECT oid, rolcanlogin, rolsuper FROM pg_roles WHERE rolname = %s",
        (name,),
        context=f"reading role {name}",
    )
    return (int(rows[0][0]), bool(rows[0][1]), bool(rows[0][2])) if rows else None


def _has_privileges_of(conn: Connection, role: str) -> bool:
    """Whether the master acts with ``role``'s privileges, as REASSIGN OWNED requires."""
    rows = run(
        conn,
        "SELECT pg_has_role(current_user, oid, 'USAGE') FROM pg_roles WHERE rolname = %s",
        (role,),
        context=f"checking the master's membership in {role}",
    )
    return bool(rows and rows[0][0])


def _direct_member(conn: Connection, member: str, role: str) -> bool:
    rows = run(
        conn,
        "SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
        "JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = %s AND u.rolname = %s",
        (role, member),
        context=f"checking whether {member} is a member of {role}",
    )
    return bool(rows)


def _member_of(conn: Connection, member: str, role: str) -> bool:
    """Whether ``member`` is in ``role``, directly or through other roles (a grant back would loop)."""
    rows = run(
        conn,
        "SELECT pg_has_role(m.oid, r.oid, 'MEMBER') FROM pg_roles m, pg_roles r "
        "WHERE m.rolname = %s AND r.rolname = %s",
        (member, role),
        context=f"checking whether {member} is a member of {role}",
    )
    return bool(rows and rows[0][0])


def _role_setting(conn: Connection, user: str) -> str | None:
    """The ``role`` in the user's global per-role settings (``ALTER ROLE user SET role = ...``)."""
    rows = run(
        conn,
        "SELECT substr(c, 6) FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole, "
        "unnest(s.setconfig) c WHERE r.rolname = %s AND s.setdatabase = 0 AND c LIKE 'role=%%'",
        (user,),
        context=f"reading {user}'s settings",
    )
    return str(rows[0][0]) if rows else None


def _refusals(conn: Connection, user: str, partner: str | None, owner: str) -> int:
    """Refuses an owner the migration cannot use; the user's role OID."""
    if owner in (user, partner):
        raise InvalidInputError(
            f"the shared owner role must be a third role, not {owner!r} (one of the colors); "
            f"for example {user}_owner"
        )
    existing = _role_row(conn, owner)
    if existing is not None and (existing[1] or existing[2]):
        raise RotationRefusedError(
            f"role {owner!r} exists and is {'a superuser' if existing[2] else 'able to log in (LOGIN)'}: "
            f"a shared owner must be NOLOGIN NOSUPERUSER so nobody works as it directly; fix: "
            f"ALTER ROLE {owner} NOLOGIN NOSUPERUSER, or name another role"
        )
    if existing is not None and _member_of(conn, owner, user):
        raise RotationRefusedError(
            f"role {owner!r} is a member of {user!r}: granting it to {user!r} would be circular; "
            "name another role"
        )
    user_row = _role_row(conn, user)
    if user_row is None:
        raise RotationRefusedError(f"role {user!r} does not exist in this cluster")
    return user_row[0]


def plan_ownership(conn: Connection, *, user: str, partner: str | None, owner: str) -> OwnershipPlan:
    """The statements that complete the migration of ``user``'s objects in the connected database.

    Read-only. Refuses an owner that is a color, can log in, is a superuser or is a member of ``user``.
    """
    validate_owner_name(owner)
    user_oid = _refusals(conn, user, partner, owner)
    partner_exists = partner is not None and _role_row(conn, partner) is not None
    owner_exists = _role_row(conn, owner) is not None
    statements: list[sql.Composable] = []
    if not owner_exists:
        statements.append(sql.SQL("CREATE ROLE {} NOLOGIN").format(_ident(owner)))
    if owned_objects(conn, user_oid):
        reassign = sql.SQL("REASSIGN OWNED BY {} TO {}").format(_ident(user), _ident(owner))
        # REASSIGN OWNED needs the privileges of both roles; a role the master creates it is not in.
        borrowed = [user] if not _has_privileges_of(conn, user) else []
        if not owner_exists or not _has_privileges_of(conn, owner):
            borrowed.append(owner)
        statements += [sql.SQL("GRANT {} TO CURRENT_USER").format(_ident(r)) for r in borrowed]
        statements.append(reassign)
        statements += [sql.SQL("REVOKE {} FROM CURRENT_USER").format(_ident(r)) for r in borrowed]
    members = [user] + ([partner] if partner is not None and partner_exists else [])
    missing = [m for m in members if not owner_exists or not _direct_member(conn, m, owner)]
    if missing:
        statements.append(
            sql.SQL("GRANT {} TO {}").format(_ident(owner), sql.SQL(", ").join(_ident(m) for m in missing))
        )
    if _role_setting(conn, user) != owner:
        statements.append(sql.SQL("ALTER ROLE {} SET role = {}").format(_ident(user), sql.Literal(owner)))
    return OwnershipPlan(tuple(statements))


def migrate_ownership(
    conn: Connection, *, user: str, partner: str | None, owner: str, dry_run: bool
) -> list[str]:
    """Runs (unless ``dry_run``) what :func:`plan_ownership` lists; the statements, as text."""
    planned = plan_ownership(conn, user=user, partner=partner, owner=owner)
    shown = [s.as_string(conn) for s in planned.statements]
    if dry_run:
        return shown
    with conn.transaction():
        for statement, text in zip(planned.statements, shown, strict=True):
            run(conn, statement, context=f"migrating {user}'s objects to {owner}: {text}")
    return shown
