"""The plan that makes a partner role's profile equal the source's, both ways, as SQL statements.

Adds and removals for every property of :class:`~.profile.RoleProfile`; identifiers always go through
``psycopg.sql.Identifier``, values through ``sql.Literal``, and the few keywords that come from the
catalogs (privilege names, attribute names) are checked against fixed lists before they are rendered.
Never a membership of one color in the other, nor SUPERUSER (refused before, by ``unreproducible``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from psycopg import sql

from .profile import (
    ATTRIBUTES,
    OBJECT_KEYWORDS,
    PRIVILEGES,
    SELF,
    DefaultPrivilege,
    Membership,
    Policy,
    Privilege,
    RoleProfile,
)

__all__ = ["Change", "object_sql", "plan", "setting_value_sql", "split_list_setting"]

# Settings whose value is a list of identifiers: ALTER ROLE ... SET takes one literal per element
# (one literal would become one quoted name), as pg_dump does for them.
_LIST_QUOTE_SETTINGS = frozenset(
    {"search_path", "temp_tablespaces", "session_preload_libraries", "local_preload_libraries"}
)


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
    keyword = sql.SQL(OBJECT_KEYWORDS[kind])
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
