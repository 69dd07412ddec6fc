"""The statements both engines share, and the hooks where they differ.

Every statement is a template and its arguments: the user, host, password, TLS values and limits are
bound parameters; privilege, object and role names are the server's own printed text (quoted by the
server, re-tokenized by :mod:`..tokens`), with ``%`` doubled so pymysql's formatting keeps
them as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, ClassVar, NamedTuple

from ..plan import Change
from ..profile import Account, AccountProfile, Priv, parse_profile, privileges_text
from ..tokens import tokenize, unquote


class Statement(NamedTuple):
    sql: str
    args: tuple[Any, ...] = ()


def lit(text: str) -> str:
    """Server-printed text placed in a template: ``%`` doubled for pymysql's formatting."""
    return text.replace("%", "%%")


def privilege_list(privs: Sequence[Priv]) -> str:
    return lit(privileges_text(privs) or "USAGE")


def is_anonymous(account_text: str) -> bool:
    """``''@'%'`` / ``''@''``: the PROXY target a superuser's proxy grant covers every account with."""
    tokens = tokenize(account_text)
    return bool(tokens) and unquote(tokens[0]) == ""


class Dialect:
    """One engine's forms. Subclasses set the class attributes and override the differing hooks."""

    name: ClassVar[str] = ""
    limit_names: ClassVar[tuple[str, ...]] = ()
    policy_defaults: ClassVar[dict[str, str]] = {}
    password_plugins: ClassVar[tuple[str, ...]] = ()
    session_probe: ClassVar[str] = ""  # one SELECT: CURRENT_USER(), CURRENT_ROLE(), engine extras
    session_probe_names: ClassVar[tuple[str, ...]] = ()
    default_role_line: ClassVar[re.Pattern[str] | None] = None

    # --- reading -------------------------------------------------------------------------------
    def accounts_query(self, users: Sequence[str]) -> Statement:
        """Rows (user, host, default role user, default role host) of these user names, one query."""
        raise NotImplementedError

    def parse(
        self, grant_lines: Iterable[str], create_user_lines: Iterable[str], default_roles: Iterable[str] = ()
    ) -> AccountProfile:
        profile = parse_profile(
            grant_lines,
            create_user_lines,
            policy_defaults=self.policy_defaults,
            default_role_line=self.default_role_line,
        )
        roles = tuple(sorted(default_roles))
        if roles:
            profile.default_roles = roles
        return profile

    # --- writing -------------------------------------------------------------------------------
    def render(self, change: Change, account: Account) -> Statement:
        who = (account.user, account.host)
        kind = change.kind
        if kind in ("revoke", "partial_revoke"):
            return Statement(
                f"REVOKE {privilege_list(change.privileges)} ON {lit(change.on)} FROM %s@%s", who
            )
        if kind in ("grant", "lift_partial_revoke"):
            option = " WITH GRANT OPTION" if change.option else ""
            return Statement(
                f"GRANT {privilege_list(change.privileges)} ON {lit(change.on)} TO %s@%s{option}", who
            )
        if kind == "revoke_grant_option":
            return Statement(f"REVOKE GRANT OPTION ON {lit(change.on)} FROM %s@%s", who)
        if kind == "grant_role":
            option = " WITH ADMIN OPTION" if change.option else ""
            return Statement(f"GRANT {lit(change.roles[0])} TO %s@%s{option}", who)
        if kind == "revoke_admin_option":
            return Statement(f"REVOKE ADMIN OPTION FOR {lit(change.roles[0])} FROM %s@%s", who)
        if kind == "revoke_role":
            return Statement(f"REVOKE {lit(change.roles[0])} FROM %s@%s", who)
        if kind == "default_roles":
            return self.default_roles_statement(change.roles, account)
        if kind == "grant_proxy":
            option = " WITH GRANT OPTION" if change.option else ""
            return Statement(f"GRANT PROXY ON {lit(change.on)} TO %s@%s{option}", who)
        if kind == "revoke_proxy":
            return Statement(f"REVOKE PROXY ON {lit(change.on)} FROM %s@%s", who)
        if kind == "alter_account":
            return self.alter_account_statement(change, account)
        raise ValueError(f"unknown change {kind!r}")

    def default_roles_statement(self, roles: Sequence[str], account: Account) -> Statement:
        raise NotImplementedError

    def alter_account_statement(self, change: Change, account: Account) -> Statement:
        sql = "ALTER USER %s@%s"
        args: list[Any] = [account.user, account.host]
        if change.require is not None:
            if not change.require:
                sql += " REQUIRE NONE"
            elif change.require[0][0] in ("SSL", "X509"):
                sql += f" REQUIRE {change.require[0][0]}"
            else:
                sql += " REQUIRE " + " AND ".join(f"{name} %s" for name, _ in change.require)
                args.extend(v for _, v in change.require)
        if change.limits:
            sql += " WITH " + " ".join(f"{name} %s" for name, _ in change.limits)
            args.extend(_limit_arg(v) for _, v in change.limits)
        for name, value in change.policy:
            # Keywords and numbers the parser validated (profile._POLICY_VALUE_RE).
            sql += f" {name} {value}".rstrip()
        return Statement(sql, tuple(args))

    def password_statement(self, account: Account, plugin: str, password: str) -> Statement:
        """Sets the password with the source's plugin: the partner authenticates exactly like it."""
        raise NotImplementedError

    # --- what the master cannot reproduce ------------------------------------------------------
    def plugin_problems(self, source: AccountProfile, account: Account) -> list[str]:
        if len(source.plugins) > 1:
            return [
                f"{account} authenticates with several plugins ({' OR '.join(source.plugins)}); the "
                f"partner can only mirror one: ALTER USER {account} IDENTIFIED "
                f"{self.identified_hint()} to keep one"
            ]
        plugin = self.plugin_of(source)
        if plugin not in self.password_plugins:
            return [
                f"{account} authenticates with {plugin}, which a rotation cannot give a password; "
                f"use one of {', '.join(self.password_plugins)}: ALTER USER {account} IDENTIFIED "
                f"{self.identified_hint()}"
            ]
        return []

    def identified_hint(self) -> str:
        return "WITH <plugin> BY '<password>'"

    def plugin_of(self, profile: AccountProfile) -> str:
        return profile.plugins[0] if profile.plugins else self.password_plugins[0]

    def master_can_grant_role(self, master: AccountProfile, role: str) -> bool | None:
        """True/False when the master's own grants tell; None when they cannot."""
        return master.roles.get(role, False)

    def master_can_grant_proxy(self, master: AccountProfile, target: str) -> bool:
        return master.proxies.get(target, False) or any(
            go and is_anonymous(t) for t, go in master.proxies.items()
        )


def _limit_arg(value: Decimal) -> int | Decimal:
    return int(value) if value == value.to_integral_value() else value
