"""The catalog queries behind a role's profile (:mod:`.profile`): each value a bound parameter.

:func:`read_accounts` reads several roles at once, each with every part of its profile, what it owns
and where else it holds something, in one query: each part is the single-part query below,
correlated to the outer role and aggregated into a JSON array of its rows.

Privileges inside a database are read in the connected one (the secret's ``dbname``): a role's
grants in other databases are named by :func:`other_databases` so ``unreproducible`` refuses them
rather than cloning half a profile.
"""

from __future__ import annotations

from dataclasses import dataclass

from .connection import Connection, run
from .profile import (
    RoleProfile,
    attributes_from_row,
    default_privileges_from_rows,
    memberships_from_rows,
    policies_from_rows,
    privileges_from_rows,
    settings_from_rows,
)

__all__ = ["RoleRow", "accounts_sql", "other_databases", "owned_objects", "read_accounts"]

_MEMBERSHIPS_SQL_16 = """
SELECT r.rolname, m.admin_option, m.inherit_option, m.set_option
  FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid WHERE m.member = %s
"""
_MEMBERSHIPS_SQL_15 = """
SELECT r.rolname, m.admin_option, NULL::boolean, NULL::boolean
  FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid WHERE m.member = %s
"""

_SETTINGS_SQL = """
SELECT coalesce(d.datname, ''), s.setconfig
  FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase WHERE s.setrole = %s
"""

_PRIVILEGES_SQL = """
SELECT 'database', d.datname, NULL, NULL, a.privilege_type, a.is_grantable
  FROM pg_database d, aclexplode(d.datacl) a WHERE a.grantee = %(role)s
UNION ALL
SELECT 'schema', n.nspname, NULL, NULL, a.privilege_type, a.is_grantable
  FROM pg_namespace n, aclexplode(n.nspacl) a WHERE a.grantee = %(role)s
UNION ALL
SELECT CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END, n.nspname, c.relname, NULL,
       a.privilege_type, a.is_grantable
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
 WHERE a.grantee = %(role)s AND c.relkind IN ('r', 'v', 'm', 'f', 'p', 'S')
UNION ALL
SELECT 'column', n.nspname, c.relname, t.attname, a.privilege_type, a.is_grantable
  FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace,
       aclexplode(t.attacl) a
 WHERE a.grantee = %(role)s AND t.attnum > 0 AND NOT t.attisdropped
UNION ALL
SELECT CASE WHEN p.prokind = 'p' THEN 'procedure' ELSE 'function' END, n.nspname, p.proname,
       oidvectortypes(p.proargtypes), a.privilege_type, a.is_grantable
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(p.proacl) a
 WHERE a.grantee = %(role)s
UNION ALL
SELECT 'large object', l.oid::text, NULL, NULL, a.privilege_type, a.is_grantable
  FROM pg_largeobject_metadata l, aclexplode(l.lomacl) a WHERE a.grantee = %(role)s
UNION ALL
SELECT 'type', n.nspname, t.typname, NULL, a.privilege_type, a.is_grantable
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace, aclexplode(t.typacl) a
 WHERE a.grantee = %(role)s
UNION ALL
SELECT 'foreign server', s.srvname, NULL, NULL, a.privilege_type, a.is_grantable
  FROM pg_foreign_server s, aclexplode(s.srvacl) a WHERE a.grantee = %(role)s
UNION ALL
SELECT 'foreign data wrapper', w.fdwname, NULL, NULL, a.privilege_type, a.is_grantable
  FROM pg_foreign_data_wrapper w, aclexplode(w.fdwacl) a WHERE a.grantee = %(role)s
UNION ALL
SELECT 'language', l.lanname, NULL, NULL, a.privilege_type, a.is_grantable
  FROM pg_language l, aclexplode(l.lanacl) a WHERE a.grantee = %(role)s
UNION ALL
SELECT 'tablespace', s.spcname, NULL, NULL, a.privilege_type, a.is_grantable
  FROM pg_tablespace s, aclexplode(s.spcacl) a WHERE a.grantee = %(role)s
"""
_PARAMETER_PRIVILEGES_SQL = """
UNION ALL
SELECT 'parameter', p.parname, NULL, NULL, a.privilege_type, a.is_grantable
  FROM pg_parameter_acl p, aclexplode(p.paracl) a WHERE a.grantee = %(role)s
"""

_DEFAULT_ACL_SQL = """
SELECT pg_get_userbyid(d.defaclrole), coalesce(n.nspname, ''), d.defaclobjtype::text,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
       a.privilege_type, a.is_grantable
  FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a
 WHERE d.defaclrole = %(role)s OR a.grantee = %(role)s
"""

_POLICIES_SQL = """
SELECT n.nspname, c.relname, p.polname,
       ARRAY(SELECT pg_get_userbyid(r) FROM unnest(p.polroles) r WHERE r <> 0 ORDER BY 1)
  FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE %s = ANY(p.polroles)
"""

_OWNED_SQL = """
SELECT coalesce(pg_describe_object(s.classid, s.objid, s.objsubid),
                s.classid::regclass::text || ' ' || s.objid)
  FROM pg_shdepend s
 WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = %s AND s.deptype = 'o'
   AND s.dbid IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
   AND s.classid NOT IN ('pg_default_acl'::regclass, 'pg_user_mapping'::regclass)
 ORDER BY 1
"""
_OTHER_DATABASES_SQL = """
SELECT DISTINCT d.datname, s.deptype = 'o'
  FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid
 WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = %s AND s.deptype IN ('o', 'a', 'r')
   AND d.datname <> current_database()
   AND s.classid NOT IN ('pg_default_acl'::regclass, 'pg_user_mapping'::regclass)
 ORDER BY 1
"""


_ACCOUNTS_SQL = """
SELECT me.rolname, me.oid, me.rolcanlogin, me.rolsuper, me.rolinherit, me.rolcreaterole, me.rolcreatedb,
       me.rolreplication, me.rolbypassrls, me.rolconnlimit,
       CASE WHEN me.rolvaliduntil IS NULL THEN NULL
            WHEN me.rolvaliduntil = 'infinity' THEN 'infinity'
            ELSE to_char(me.rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') END,
       {memberships},
       {settings},
       {privileges},
       {default_acl},
       {policies},
       {owned},
       {other_databases},
       ARRAY(SELECT o.rolname FROM pg_roles o WHERE o.rolname = ANY(%(names)s) AND o.oid <> me.oid
                AND pg_has_role(me.oid, o.oid, 'MEMBER') ORDER BY 1)
  FROM pg_roles me WHERE me.rolname = ANY(%(names)s)
"""


@dataclass(frozen=True)
class RoleRow:
    """A role as ``pg_roles`` shows it: OID, LOGIN and the attributes :class:`RoleProfile` compares;
    ``owned`` and ``other_databases`` as :func:`owned_objects` and :func:`other_databases` return them,
    and membership (direct or not) in the other roles read with it, in the same query as the profile."""

    name: str
    oid: int
    can_login: bool
    attributes: tuple[tuple[str, str], ...]
    owned: tuple[str, ...] = ()
    other_databases: tuple[tuple[str, bool], ...] = ()
    read_with: tuple[str, ...] = ()
    """The roles read in the same query: ``member_of`` says which of them this role is a member of."""
    member_of: frozenset[str] = frozenset()


def _part(sql_text: str, columns: int) -> str:
    """A per-role catalog query as one JSON array of its rows, correlated to the outer role ``me``
    instead of taking the role's OID as a parameter; one-column rows become plain values."""
    query = sql_text.replace("%(role)s", "me.oid").replace("%s", "me.oid").strip()
    names = [f"c{i}" for i in range(1, columns + 1)]
    row = names[0] if columns == 1 else f"json_build_array({', '.join(names)})"
    # Only this module's fixed catalog SQL and generated column names are formatted in; no value is.
    return f"(SELECT coalesce(json_agg({row} ORDER BY c1), '[]') FROM ({query}) part({', '.join(names)}))"  # nosec B608


def accounts_sql(server_version: int) -> str:
    """One query for the roles' attributes, profile parts, owned objects and other databases: every
    part a JSON array of rows (the rows the single-part queries return), one result row per role."""
    members_sql = _MEMBERSHIPS_SQL_16 if server_version >= 160000 else _MEMBERSHIPS_SQL_15
    privileges_sql = _PRIVILEGES_SQL + (_PARAMETER_PRIVILEGES_SQL if server_version >= 150000 else "")
    return _ACCOUNTS_SQL.format(
        memberships=_part(members_sql, 4),
        settings=_part(_SETTINGS_SQL, 2),
        privileges=_part(privileges_sql, 6),
        default_acl=_part(_DEFAULT_ACL_SQL, 6),
        policies=_part(_POLICIES_SQL, 4),
        owned=_part(_OWNED_SQL, 1),
        other_databases=_part(_OTHER_DATABASES_SQL, 2),
    )


def read_accounts(conn: Connection, names: tuple[str, ...]) -> dict[str, tuple[RoleRow, RoleProfile]]:
    """Each existing role of ``names`` with its whole profile, in one round trip for all of them."""
    rows = run(
        conn,
        accounts_sql(conn.info.server_version),
        {"names": list(names)},
        context="reading roles and their profiles",
    )
    out: dict[str, tuple[RoleRow, RoleProfile]] = {}
    for row in rows:
        name = str(row[0])
        memberships, settings, privileges, default_acl, policies, owned, elsewhere, member_of = row[11:]
        attributes = attributes_from_row(row[3:11])
        role = RoleRow(
            name,
            int(row[1]),
            bool(row[2]),
            attributes,
            owned=tuple(str(o) for o in owned),
            other_databases=tuple((str(d), bool(o)) for d, o in elsewhere),
            read_with=tuple(names),
            member_of=frozenset(member_of),
        )
        profile = RoleProfile(
            attributes=attributes,
            memberships=memberships_from_rows(memberships),
            settings=settings_from_rows(settings, name),
            privileges=privileges_from_rows(privileges),
            default_privileges=default_privileges_from_rows(default_acl, name),
            policies=policies_from_rows(policies),
        )
        out[name] = (role, profile)
    return out


def owned_objects(conn: Connection, role_oid: int) -> list[str]:
    """What the role owns, in this database and cluster-wide, as the server describes each object."""
    return [str(r[0]) for r in run(conn, _OWNED_SQL, (role_oid,), context="reading owned objects")]


def other_databases(conn: Connection, role_oid: int) -> list[tuple[str, bool]]:
    """Other databases where the role owns objects (True) or holds grants or policies (False)."""
    return [
        (str(r[0]), bool(r[1]))
        for r in run(conn, _OTHER_DATABASES_SQL, (role_oid,), context="reading databases")
    ]
