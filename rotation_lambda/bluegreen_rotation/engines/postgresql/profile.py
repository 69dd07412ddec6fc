"""A PostgreSQL role's profile: everything a client of the role could notice, as one frozen value.

Read from the catalogs (:mod:`.catalog`) and compared between the two colors, so the own role name is
normalised to :data:`SELF` wherever it appears (a default privilege the role grants to itself, a
setting whose value is the role's name): two roles with the same profile compare equal.

- attributes: INHERIT, CREATEDB, CREATEROLE, BYPASSRLS, REPLICATION, CONNECTION LIMIT, VALID UNTIL
  (and SUPERUSER, which is only compared: no master on Aurora can grant it); LOGIN is kept as is;
- memberships in other roles with ADMIN and, from PostgreSQL 16 on, INHERIT and SET
  (``pg_auth_members`` may hold one row per grantor: the options are OR-ed over grantors);
- per-role settings (``pg_db_role_setting``), for every database and per database;
- privileges at every level, from the catalogs' ACLs through ``aclexplode``;
- default privileges: entries FOR the role (what its new objects grant) and entries that grant TO it;
- row-level-security policies whose role list names the role.

:func:`plan` lists the statements that make a target equal a source, both ways (adds and removals);
identifiers always go through ``psycopg.sql.Identifier``, values through ``sql.Literal``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

__all__ = [
    "SELF",
    "Change",
    "DefaultPrivilege",
    "Membership",
    "Policy",
    "Privilege",
    "RoleProfile",
    "Setting",
    "plan",
]

SELF = "<self>"
"""Stands for the profile's own role wherever its name would appear."""

ATTRIBUTES = ("SUPERUSER", "INHERIT", "CREATEROLE", "CREATEDB", "REPLICATION", "BYPASSRLS")
"""Boolean role attributes, in ``pg_roles`` column order (``rolsuper``, ``rolinherit``...)."""

PRIVILEGES = frozenset(
    {
        "SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "EXECUTE",
        "USAGE", "CREATE", "CONNECT", "TEMPORARY", "SET", "ALTER SYSTEM", "MAINTAIN",
    }
)  # fmt: skip
"""Every privilege name ``aclexplode`` reports: only these are ever put in a statement."""

_OBJECT_KEYWORDS = {
    "database": "DATABASE",
    "schema": "SCHEMA",
    "table": "TABLE",
    "column": "TABLE",
    "sequence": "SEQUENCE",
    "function": "FUNCTION",
    "procedure": "PROCEDURE",
    "large object": "LARGE OBJECT",
    "type": "TYPE",
    "foreign server": "FOREIGN SERVER",
    "foreign data wrapper": "FOREIGN DATA WRAPPER",
    "language": "LANGUAGE",
    "tablespace": "TABLESPACE",
    "parameter": "PARAMETER",
}
DEFAULT_ACL_OBJECTS = {
    "r": "TABLES",
    "S": "SEQUENCES",
    "f": "FUNCTIONS",
    "T": "TYPES",
    "n": "SCHEMAS",
    "L": "LARGE OBJECTS",  # PostgreSQL 18
}

# Settings whose value is a list of identifiers: ALTER ROLE ... SET takes one literal per element
# (one literal would become one quoted name), as pg_dump does for them.
_LIST_QUOTE_SETTINGS = frozenset(
    {"search_path", "temp_tablespaces", "session_preload_libraries", "local_preload_libraries"}
)


@dataclass(frozen=True, order=True)
class Membership:
    """Membership in ``role``; ``inherit``/``set`` are None before PostgreSQL 16 (no such options)."""

    role: str
    admin: bool
    inherit: bool | None = None
    set: bool | None = None

    def __str__(self) -> str:
        options = ["ADMIN"] if self.admin else []
        if self.inherit is not None:
            options.append(f"INHERIT {'TRUE' if self.inherit else 'FALSE'}")
        if self.set is not None:
            options.append(f"SET {'TRUE' if self.set else 'FALSE'}")
        return f"{self.role} ({', '.join(options)})" if options else self.role


@dataclass(frozen=True, order=True)
class Setting:
    """``ALTER ROLE ... [IN DATABASE database] SET name = value``; ``database`` "" = every database."""

    database: str
    name: str
    value: str

    def __str__(self) -> str:
        where = f" in database {self.database}" if self.database else ""
        return f"{self.name} = {self.value}{where}"


@dataclass(frozen=True, order=True)
class Privilege:
    """One privilege on one object. ``target``: the object's name parts (schema, name[, column or
    function arguments]); a large object by its OID."""

    kind: str
    target: tuple[str, ...]
    privilege: str
    grantable: bool = False

    @property
    def key(self) -> tuple[str, tuple[str, ...], str]:
        return (self.kind, self.target, self.privilege)

    @property
    def revoke_text(self) -> str:
        """``SELECT ON TABLE s.t``, ``SELECT (a) ON TABLE s.t``: what a REVOKE names."""
        return str(Privilege(self.kind, self.target, self.privilege))

    def __str__(self) -> str:
        grant = " WITH GRANT OPTION" if self.grantable else ""
        if self.kind == "column":
            return f"{self.privilege} ({self.target[2]}) ON TABLE {'.'.join(self.target[:2])}{grant}"
        if self.kind in ("function", "procedure"):
            name = f"{self.target[0]}.{self.target[1]}({self.target[2]})"
        else:
            name = ".".join(self.target)
        return f"{self.privilege} ON {_OBJECT_KEYWORDS[self.kind]} {name}{grant}"


@dataclass(frozen=True, order=True)
class DefaultPrivilege:
    """``ALTER DEFAULT PRIVILEGES FOR ROLE owner [IN SCHEMA schema] GRANT privilege ON objects TO
    grantee``: ``owner`` is SELF for the role's own entries, ``grantee`` SELF for entries granting to it."""

    owner: str
    schema: str
    objects: str
    grantee: str
    privilege: str
    grantable: bool = False

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.owner, self.schema, self.objects, self.grantee, self.privilege)

    def __str__(self) -> str:
        where = f" IN SCHEMA {self.schema}" if self.schema else ""
        grant = " WITH GRANT OPTION" if self.grantable else ""
        return (
            f"FOR ROLE {self.owner}{where} GRANT {self.privilege} ON {self.objects} TO {self.grantee}{grant}"
        )


@dataclass(frozen=True, order=True)
class Policy:
    """A row-level-security policy naming the role; ``roles`` (its whole role list, real names) is
    kept to rewrite the list and is not compared."""

    schema: str
    table: str
    name: str
    roles: tuple[str, ...] = field(default=(), compare=False)

    def __str__(self) -> str:
        return f"policy {self.name} ON {self.schema}.{self.table}"


@dataclass(frozen=True)
class RoleProfile:
    """A role's profile; never holds a password or verifier. ``attributes`` maps each attribute
    (``CREATEDB``, ``CONNECTION LIMIT``, ``VALID UNTIL``...) to its value as text."""

    attributes: tuple[tuple[str, str], ...]
    memberships: frozenset[Membership] = frozenset()
    settings: frozenset[Setting] = frozenset()
    privileges: frozenset[Privilege] = frozenset()
    default_privileges: frozenset[DefaultPrivilege] = frozenset()
    policies: frozenset[Policy] = frozenset()

    @property
    def attribute_map(self) -> dict[str, str]:
        return dict(self.attributes)

    def differences(self, other: object, *, mine: str, theirs: str) -> list[str]:
        """Each difference names the property and both roles' values."""
        if not isinstance(other, RoleProfile):
            return [f"{theirs}'s profile is not a PostgreSQL role profile"]
        out: list[str] = []
        a, b = self.attribute_map, other.attribute_map
        for name in sorted(set(a) | set(b)):
            if a.get(name) != b.get(name):
                out.append(f"attribute {name}: {mine} {a.get(name)}, {theirs} {b.get(name)}")

        def sets(label: str, left: Iterable[object], right: Iterable[object]) -> None:
            ls, rs = {str(x) for x in left}, {str(x) for x in right}
            out.extend(f"{label} only {mine} has: {x}" for x in sorted(ls - rs))
            out.extend(f"{label} only {theirs} has: {x}" for x in sorted(rs - ls))

        sets("membership", self.memberships, other.memberships)
        sets("setting", self.settings, other.settings)
        sets("privilege", self.privileges, other.privileges)
        sets("default privilege", self.default_privileges, other.default_privileges)
        sets("row-level-security", self.policies, other.policies)
        return out


def normalise(name: str, own: str) -> str:
    """The own role's name as :data:`SELF`, every other name as is."""
    return SELF if name == own else name


# --- from catalog rows -------------------------------------------------------------------------


def attributes_from_row(row: Sequence[Any]) -> tuple[tuple[str, str], ...]:
    """``(rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls,
    rolconnlimit, valid_until_text)``; NULL and ``infinity`` both mean "never expires"."""
    flags = [
        (name, name if bool(value) else f"NO{name}") for name, value in zip(ATTRIBUTES, row[:6], strict=True)
    ]
    valid = str(row[7]) if row[7] not in (None, "infinity") else "infinity"
    return (*flags, ("CONNECTION LIMIT", str(int(row[6]))), ("VALID UNTIL", valid))


def memberships_from_rows(rows: Iterable[Sequence[Any]]) -> frozenset[Membership]:
    """``(role, admin_option, inherit_option | None, set_option | None)`` rows, one per grantor:
    the options are OR-ed over the grantors, as the server does when it checks them."""
    merged: dict[str, Membership] = {}
    for role, admin, inherit, set_ in rows:
        old = merged.get(role)
        if old is None:
            merged[role] = Membership(role, bool(admin), _opt(inherit), _opt(set_))
        else:
            merged[role] = Membership(
                role, old.admin or bool(admin), _or(old.inherit, _opt(inherit)), _or(old.set, _opt(set_))
            )
    return frozenset(merged.values())


def settings_from_rows(rows: Iterable[Sequence[Any]], own: str) -> frozenset[Setting]:
    """``(database or '', setconfig array)`` rows of ``pg_db_role_setting``."""
    out = set()
    for database, config in rows:
        for item in config or ():
            name, _, value = str(item).partition("=")
            out.add(Setting(database or "", name, normalise(value, own)))
    return frozenset(out)


def privileges_from_rows(rows: Iterable[Sequence[Any]]) -> frozenset[Privilege]:
    """``(kind, part1, part2, part3, privilege, grantable)`` rows: NULL parts dropped."""
    out = set()
    for kind, p1, p2, p3, privilege, grantable in rows:
        target = tuple(str(p) for p in (p1, p2, p3) if p is not None)
        if kind in ("function", "procedure") and len(target) == 2:
            target = (*target, "")
        out.add(Privilege(str(kind), target, str(privilege), bool(grantable)))
    return frozenset(out)


def default_privileges_from_rows(rows: Iterable[Sequence[Any]], own: str) -> frozenset[DefaultPrivilege]:
    """``(owner, schema or '', objtype char, grantee or 'PUBLIC', privilege, grantable)`` rows; an
    owner's privileges on its own new objects (implicit in every global entry) are left out."""
    out = set()
    for owner, schema, objtype, grantee, privilege, grantable in rows:
        if owner == grantee:
            continue
        out.add(
            DefaultPrivilege(
                normalise(owner, own),
                schema or "",
                DEFAULT_ACL_OBJECTS[objtype],
                normalise(grantee, own),
                str(privilege),
                bool(grantable),
            )
        )
    return frozenset(out)


def policies_from_rows(rows: Iterable[Sequence[Any]]) -> frozenset[Policy]:
    """``(schema, table, policy, role names)`` rows."""
    return frozenset(Policy(s, t, p, tuple(sorted(roles or ()))) for s, t, p, roles in rows)


def _opt(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _or(a: bool | None, b: bool | None) -> bool | None:
    return None if a is None and b is None else bool(a) or bool(b)


# --- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One statement of a plan and the kind of change it makes (reported by clone_profile)."""

    kind: str
    statement: sql.Composed
    as_member_of: str | None = None
    """A role the master must act as a member of (default privileges FOR that role)."""


def _ident(name: str, role: str) -> sql.Composable:
    if name == SELF:
        return sql.Identifier(role)
    if name == "PUBLIC":
        return sql.SQL("PUBLIC")
    return sql.Identifier(name)


def _check_privilege(privilege: str) -> sql.SQL:
    if privilege not in PRIVILEGES:
        raise ValueError(f"unknown privilege {privilege!r}")
    return sql.SQL(privilege)


def object_sql(kind: str, target: tuple[str, ...]) -> sql.Composable:
    """``TABLE "s"."t"``, ``FUNCTION "s"."f"(integer)``, ``LARGE OBJECT 16400``...

    Function arguments are the server's own ``oidvectortypes(proargtypes)`` text (the argument types
    as it prints and quotes them), the one part not built from identifiers here.
    """
    keyword = sql.SQL(_OBJECT_KEYWORDS[kind])
    if kind == "large object":
        return sql.SQL("{} {}").format(keyword, sql.Literal(int(target[0])))
    if kind in ("function", "procedure"):
        return sql.SQL("{} {}({})").format(keyword, sql.Identifier(*target[:2]), sql.SQL(target[2]))
    if kind == "column":
        return sql.SQL("{} {}").format(keyword, sql.Identifier(*target[:2]))
    return sql.SQL("{} {}").format(keyword, sql.Identifier(*target))


def _privilege_sql(p: Privilege) -> sql.Composable:
    if p.kind == "column":
        return sql.SQL("{} ({})").format(_check_privilege(p.privilege), sql.Identifier(p.target[2]))
    return _check_privilege(p.privilege)


def _grant_privilege(p: Privilege, role: str, *, grant_option: bool) -> sql.Composed:
    return sql.SQL("GRANT {} ON {} TO {}{}").format(
        _privilege_sql(p),
        object_sql(p.kind, p.target),
        sql.Identifier(role),
        sql.SQL(" WITH GRANT OPTION" if grant_option else ""),
    )


def _revoke_privilege(p: Privilege, role: str, *, only_grant_option: bool) -> sql.Composed:
    return sql.SQL("REVOKE {}{} ON {} FROM {}").format(
        sql.SQL("GRANT OPTION FOR " if only_grant_option else ""),
        _privilege_sql(p),
        object_sql(p.kind, p.target),
        sql.Identifier(role),
    )


def _membership_options(m: Membership) -> sql.Composable:
    if m.inherit is None and m.set is None:
        return sql.SQL(" WITH ADMIN OPTION" if m.admin else "")
    parts = [f"ADMIN {'TRUE' if m.admin else 'FALSE'}"]
    if m.inherit is not None:
        parts.append(f"INHERIT {'TRUE' if m.inherit else 'FALSE'}")
    if m.set is not None:
        parts.append(f"SET {'TRUE' if m.set else 'FALSE'}")
    return sql.SQL(" WITH " + ", ".join(parts))


def setting_value_sql(name: str, value: str, role: str) -> sql.Composable:
    """The value as ``ALTER ROLE ... SET`` takes it: one literal, or one per list element."""
    if value == SELF:
        value = role
    if name in _LIST_QUOTE_SETTINGS:
        return sql.SQL(", ").join(sql.Literal(v) for v in split_list_setting(value))
    return sql.Literal(value)


def split_list_setting(value: str) -> list[str]:
    """The elements of a list setting as stored (``"$user", public``): double quotes undone."""
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        while i < n and value[i] in " \t":
            i += 1
        if i < n and value[i] == '"':
            i += 1
            chars = []
            while i < n:
                if value[i] == '"':
                    if i + 1 < n and value[i + 1] == '"':
                        chars.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                chars.append(value[i])
                i += 1
            out.append("".join(chars))
            while i < n and value[i] != ",":
                i += 1
        else:
            j = value.find(",", i)
            j = n if j < 0 else j
            out.append(value[i:j].strip())
            i = j
        i += 1  # the comma
    return [v for v in out if v != ""] or [""]


def _membership_changes(old: Membership | None, new: Membership, me: sql.Identifier) -> list[Change]:
    """Adds a membership, or turns its options into the source's: options the target has and the
    source lacks are revoked one by one (``REVOKE ... OPTION FOR``), the rest granted in one GRANT."""
    role = sql.Identifier(new.role)
    if old is None:
        return [Change("grant role", sql.SQL("GRANT {} TO {}{}").format(role, me, _membership_options(new)))]
    if old == new:
        return []
    changes = []
    pairs = [
        ("ADMIN", old.admin, new.admin),
        ("INHERIT", old.inherit, new.inherit),
        ("SET", old.set, new.set),
    ]
    for option, had, wants in pairs:
        if had and not wants:
            changes.append(
                Change(
                    "revoke role",
                    sql.SQL("REVOKE {} OPTION FOR {} FROM {}").format(sql.SQL(option), role, me),
                )
            )
    gains = [option for option, had, wants in pairs if wants and not had]
    if gains:
        options: sql.Composable = sql.SQL(", ").join(sql.SQL(f"{option} TRUE") for option in gains)
        if new.inherit is None and new.set is None:
            options = sql.SQL("ADMIN OPTION")
        changes.append(Change("grant role", sql.SQL("GRANT {} TO {} WITH {}").format(role, me, options)))
    return changes


def _setting_target(role: str, database: str) -> sql.Composable:
    if database:
        return sql.SQL("ALTER ROLE {} IN DATABASE {}").format(sql.Identifier(role), sql.Identifier(database))
    return sql.SQL("ALTER ROLE {}").format(sql.Identifier(role))


def _default_acl(d: DefaultPrivilege, role: str, *, grant: bool, only_grant_option: bool = False) -> Change:
    owner = role if d.owner == SELF else d.owner
    where = sql.SQL(" IN SCHEMA {}").format(sql.Identifier(d.schema)) if d.schema else sql.SQL("")
    grantee = _ident(d.grantee, role)
    if grant:
        action = sql.SQL("GRANT {} ON {} TO {}{}").format(
            _check_privilege(d.privilege),
            sql.SQL(d.objects),
            grantee,
            sql.SQL(" WITH GRANT OPTION" if d.grantable else ""),
        )
    else:
        action = sql.SQL("REVOKE {}{} ON {} FROM {}").format(
            sql.SQL("GRANT OPTION FOR " if only_grant_option else ""),
            _check_privilege(d.privilege),
            sql.SQL(d.objects),
            grantee,
        )
    statement = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {}{} {}").format(
        sql.Identifier(owner), where, action
    )
    return Change("grant default privilege" if grant else "revoke default privilege", statement, owner)


def _policy_roles(policy: Policy, roles: Iterable[str]) -> sql.Composed:
    names = sorted(set(roles))
    if not names:
        raise ValueError(
            f"{policy}: removing the role would leave the policy with no role (it would apply TO PUBLIC); "
            f"fix: ALTER POLICY {policy.name} ON {policy.schema}.{policy.table} TO <the roles it is for>"
        )
    return sql.SQL("ALTER POLICY {} ON {} TO {}").format(
        sql.Identifier(policy.name),
        sql.Identifier(policy.schema, policy.table),
        sql.SQL(", ").join(sql.Identifier(r) for r in names),
    )


def plan(target: RoleProfile, source: RoleProfile, *, target_role: str, source_role: str) -> list[Change]:
    """The statements that make ``target_role``'s profile equal ``source``, adds and removals.

    Never a membership of one color in the other, nor SUPERUSER (refused before, by ``unreproducible``).
    """
    changes: list[Change] = []
    me = sql.Identifier(target_role)
    ta, sa = target.attribute_map, source.attribute_map
    clauses: list[sql.Composable] = []
    for name in ATTRIBUTES[1:]:
        if sa.get(name) != ta.get(name):
            if sa[name] not in (name, f"NO{name}"):
                raise ValueError(f"attribute {name} has no value {sa[name]!r}")
            clauses.append(sql.SQL(sa[name]))
    if sa.get("CONNECTION LIMIT") != ta.get("CONNECTION LIMIT"):
        clauses.append(sql.SQL("CONNECTION LIMIT {}").format(sql.Literal(int(sa["CONNECTION LIMIT"]))))
    if sa.get("VALID UNTIL") != ta.get("VALID UNTIL"):
        clauses.append(sql.SQL("VALID UNTIL {}").format(sql.Literal(sa["VALID UNTIL"])))
    if clauses:
        changes.append(
            Change("attributes", sql.SQL("ALTER ROLE {} {}").format(me, sql.SQL(" ").join(clauses)))
        )

    colors = {target_role, source_role, SELF}
    mine = {m.role: m for m in target.memberships if m.role not in colors}
    theirs = {m.role: m for m in source.memberships if m.role not in colors}
    for role, m in sorted(theirs.items()):
        changes += _membership_changes(mine.get(role), m, me)
    for role in sorted(set(mine) - set(theirs)):
        changes.append(Change("revoke role", sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(role), me)))

    ts = {(s.database, s.name): s for s in target.settings}
    ss = {(s.database, s.name): s for s in source.settings}
    for (database, name), s in sorted(ss.items()):
        if ts.get((database, name)) != s:
            changes.append(
                Change(
                    "set setting",
                    sql.SQL("{} SET {} = {}").format(
                        _setting_target(target_role, database),
                        sql.Identifier(name),
                        setting_value_sql(name, s.value, target_role),
                    ),
                )
            )
    for database, name in sorted(set(ts) - set(ss)):
        changes.append(
            Change(
                "reset setting",
                sql.SQL("{} RESET {}").format(_setting_target(target_role, database), sql.Identifier(name)),
            )
        )

    tp = {p.key: p for p in target.privileges}
    sp = {p.key: p for p in source.privileges}
    for key, p in sorted(sp.items()):
        old_p = tp.get(key)
        if old_p == p:
            continue
        if old_p is not None and old_p.grantable and not p.grantable:
            changes.append(
                Change("revoke privilege", _revoke_privilege(p, target_role, only_grant_option=True))
            )
        else:
            changes.append(
                Change("grant privilege", _grant_privilege(p, target_role, grant_option=p.grantable))
            )
    for key in sorted(set(tp) - set(sp)):
        changes.append(
            Change("revoke privilege", _revoke_privilege(tp[key], target_role, only_grant_option=False))
        )

    td = {d.key: d for d in target.default_privileges}
    sd = {d.key: d for d in source.default_privileges}
    for dkey, d in sorted(sd.items()):
        old_d = td.get(dkey)
        if old_d == d:
            continue
        if old_d is not None and old_d.grantable and not d.grantable:
            changes.append(_default_acl(d, target_role, grant=False, only_grant_option=True))
        else:
            changes.append(_default_acl(d, target_role, grant=True))
    for dkey in sorted(set(td) - set(sd)):
        changes.append(_default_acl(td[dkey], target_role, grant=False))

    tpol = {p: p for p in target.policies}
    spol = {p: p for p in source.policies}
    for policy in sorted(set(spol) - set(tpol)):
        changes.append(Change("policy", _policy_roles(policy, (*spol[policy].roles, target_role))))
    for policy in sorted(set(tpol) - set(spol)):
        roles = [r for r in tpol[policy].roles if r != target_role]
        changes.append(Change("policy", _policy_roles(policy, roles)))
    return changes
