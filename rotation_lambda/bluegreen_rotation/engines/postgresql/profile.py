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

:mod:`.plan` turns two profiles into the statements that make one equal the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "OBJECT_KEYWORDS",
    "SELF",
    "DefaultPrivilege",
    "Membership",
    "Policy",
    "Privilege",
    "RoleProfile",
    "Setting",
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

OBJECT_KEYWORDS = {
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
        return f"{self.privilege} ON {OBJECT_KEYWORDS[self.kind]} {name}{grant}"


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
