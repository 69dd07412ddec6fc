"""The plan turning the partner's account profile into the source's: a list of :class:`Change`.

Pure: a dialect renders each change as one statement (:mod:`.dialects`); the authentication plugin
is not planned, the password (set last) carries it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from .profile import AccountProfile, Priv


@dataclass(frozen=True)
class Change:
    """One step turning the partner's profile into the source's; a dialect renders it as SQL.

    kind: revoke, grant, revoke_grant_option, partial_revoke, lift_partial_revoke, grant_role,
    revoke_admin_option, revoke_role, default_roles, grant_proxy, revoke_proxy, alter_account.
    """

    kind: str
    on: str = ""
    privileges: tuple[Priv, ...] = ()
    option: bool = False
    roles: tuple[str, ...] = ()
    require: tuple[tuple[str, str], ...] | None = None
    limits: tuple[tuple[str, Decimal], ...] = ()
    policy: tuple[tuple[str, str], ...] = ()


def plan(have: AccountProfile, want: AccountProfile, limit_names: Iterable[str]) -> list[Change]:
    """The changes making ``have`` equal ``want`` (all but the plugin, which the password sets).

    Order matters: extra privileges go first, global privileges are granted before partial revokes
    restrict them, roles are granted before they become default and revoked after, and a role or
    grant line that differs only in part ends exactly as the source's.
    """
    changes: list[Change] = []
    for key, g in sorted(have.grants.items()):
        w = want.grants.get(key)
        extra = g.privileges - (w.privileges if w else frozenset())
        if extra:
            changes.append(Change("revoke", g.on, tuple(sorted(extra))))
        if g.grant_option and w is None:
            changes.append(Change("revoke_grant_option", g.on))
    for key, wanted in sorted(want.grants.items(), key=lambda kv: (kv[0][0] != "*.*", kv[0])):
        had = have.grants.get(key)
        missing = wanted.privileges - (had.privileges if had else frozenset())
        if missing or (wanted.grant_option and had is None):
            changes.append(Change("grant", wanted.on, tuple(sorted(missing)), option=wanted.grant_option))
    global_privs = want.privileges_on("*.*")
    for on in sorted(have.partial_revokes.keys() | want.partial_revokes.keys()):
        h, w2 = have.partial_revokes.get(on, frozenset()), want.partial_revokes.get(on, frozenset())
        if w2 - h:
            changes.append(Change("partial_revoke", on, tuple(sorted(w2 - h))))
        # A restriction whose global privilege the source keeps is lifted by granting it back; one
        # whose global privilege was just revoked vanished with it.
        lift = (h - w2) & global_privs
        if lift:
            changes.append(Change("lift_partial_revoke", on, tuple(sorted(lift))))
    for role, admin in sorted(want.roles.items()):
        if role not in have.roles or (admin and not have.roles[role]):
            changes.append(Change("grant_role", roles=(role,), option=admin))
        elif have.roles[role] and not admin:
            changes.append(Change("revoke_admin_option", roles=(role,)))
    if tuple(sorted(want.default_roles)) != tuple(sorted(have.default_roles)):
        changes.append(Change("default_roles", roles=tuple(sorted(want.default_roles))))
    changes.extend(Change("revoke_role", roles=(r,)) for r in sorted(have.roles.keys() - want.roles.keys()))
    for target in sorted(have.proxies.keys() | want.proxies.keys()):
        h_go, w_go = have.proxies.get(target), want.proxies.get(target)
        if h_go is not None and h_go != w_go:
            changes.append(Change("revoke_proxy", target))
        if w_go is not None and h_go != w_go:
            changes.append(Change("grant_proxy", target, option=w_go))
    require = want.require if want.require != have.require else None
    limits = tuple(
        (name, want.limits.get(name, Decimal(0)))
        for name in limit_names
        if want.limits.get(name, Decimal(0)) != have.limits.get(name, Decimal(0))
    )
    policy = tuple((k, v) for k, v in sorted(want.policy.items()) if have.policy.get(k) != v)
    if require is not None or limits or policy:
        changes.append(Change("alter_account", require=require, limits=limits, policy=policy))
    return changes
