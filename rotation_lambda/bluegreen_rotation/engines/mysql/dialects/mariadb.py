"""MariaDB (10.11 here): the engine the tests run on.

Differences from MySQL 8 this module encodes (observed on Debian's 10.11 and in MariaDB's manual,
https://mariadb.com/kb/en/show-grants/, /show-create-user/, /set-default-role/, /create-user/):
- roles have no host part (```reporting```); the one default role is a ``SET DEFAULT ROLE `r` FOR
  `u`@`h``` line of ``SHOW GRANTS`` and is set with that same statement (``FOR`` the partner);
- granting a role needs it ``WITH ADMIN OPTION``, even for root (1698 otherwise);
- ``SHOW GRANTS`` prints the password hash, TLS requirement and limits on the global line; they are
  read from ``SHOW CREATE USER`` instead, which prints ``IDENTIFIED BY PASSWORD '<hash>'`` for
  mysql_native_password and ``IDENTIFIED VIA <plugin> USING '<hash>' [OR ...]`` for the others;
- an extra per-user limit, ``MAX_STATEMENT_TIME`` (seconds, printed ``1.000000``);
- an expired password moves the expiry policy to a second row, ``ALTER USER ... PASSWORD EXPIRE
  INTERVAL 30 DAY``; no per-user failed-login policy (``max_password_errors`` is global) and no
  password history / reuse / require-current options;
- a password with a plugin: ``IDENTIFIED VIA <plugin> USING PASSWORD(%s)`` (ed25519 needs
  ``INSTALL SONAME 'auth_ed25519'``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from ..profile import Account
from .base import Dialect, Statement, lit


class MariaDBDialect(Dialect):
    name: ClassVar[str] = "mariadb"
    limit_names: ClassVar[tuple[str, ...]] = (
        "MAX_QUERIES_PER_HOUR",
        "MAX_UPDATES_PER_HOUR",
        "MAX_CONNECTIONS_PER_HOUR",
        "MAX_USER_CONNECTIONS",
        "MAX_STATEMENT_TIME",
    )
    policy_defaults: ClassVar[dict[str, str]] = {"PASSWORD EXPIRE": "DEFAULT", "ACCOUNT": "UNLOCK"}
    password_plugins: ClassVar[tuple[str, ...]] = ("mysql_native_password", "ed25519")
    session_probe: ClassVar[str] = "SELECT CURRENT_USER(), CURRENT_ROLE(), @@max_statement_time"
    session_probe_names: ClassVar[tuple[str, ...]] = ("active role", "max_statement_time")
    default_role_line: ClassVar[re.Pattern[str] | None] = re.compile(r"SET DEFAULT ROLE (.+) FOR \S+$")

    def accounts_query(self, users: Sequence[str]) -> Statement:
        marks = ", ".join(["%s"] * len(users))
        return Statement(  # only placeholders are formatted in; the user names are bound
            f"SELECT User, Host, NULL, NULL FROM mysql.user WHERE User IN ({marks}) AND is_role <> 'Y'",  # nosec B608
            tuple(users),
        )

    def default_roles_statement(self, roles: Sequence[str], account: Account) -> Statement:
        role = lit(roles[0]) if roles else "NONE"
        return Statement(f"SET DEFAULT ROLE {role} FOR %s@%s", (account.user, account.host))

    def password_statement(self, account: Account, plugin: str, password: str) -> Statement:
        if plugin not in self.password_plugins:
            raise ValueError(f"plugin {plugin!r} takes no password")
        return Statement(
            f"ALTER USER %s@%s IDENTIFIED VIA {plugin} USING PASSWORD(%s)",
            (account.user, account.host, password),
        )

    def identified_hint(self) -> str:
        return "VIA <plugin> USING PASSWORD('<password>')"
