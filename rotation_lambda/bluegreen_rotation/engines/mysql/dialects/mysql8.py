"""MySQL 8.0 and Aurora MySQL 3: not runnable here, so its forms are checked against recorded server
output (tests/fixtures/mysql8/, each citing the mysql-test file and manual page it follows).

From the MySQL 8.0 Reference Manual (SHOW GRANTS 15.7.7.22, SHOW CREATE USER 15.7.7.12, SET DEFAULT
ROLE 15.7.1.9, ALTER USER 15.7.1.1, "Privilege Restriction Using Partial Revokes" 8.2.12, "Using
Roles" 8.2.10, "Pluggable Authentication" 8.4.1.1):
- roles are accounts (```r1`@`%```); ``SHOW GRANTS`` prints ``GRANT `r1`@`%`,`r2`@`%` TO ...`` and
  does not print default roles: they are rows of ``mysql.default_roles`` (read in the same query as
  the accounts), set with ``ALTER USER ... DEFAULT ROLE`` for the partner.
  ``activate_all_roles_on_login`` is OFF by default, so a partner missing its default role logs in
  but gets 1142 on its first query: the profile comparison catches it before the flip;
- with ``partial_revokes=ON`` ``SHOW GRANTS`` prints ``REVOKE <privs> ON `db`.* FROM ...`` lines:
  re-applied to the partner after its global grants, never replayed against the source;
- dynamic privileges print without spaces (``GRANT BACKUP_ADMIN,ROLE_ADMIN ON *.*``);
- ``SHOW CREATE USER`` prints ``IDENTIFIED WITH '<plugin>' AS '<hash>'``, ``REQUIRE``, ``WITH MAX_...``,
  ``PASSWORD EXPIRE ...``, ``ACCOUNT LOCK|UNLOCK``, ``PASSWORD HISTORY``, ``PASSWORD REUSE INTERVAL``,
  ``PASSWORD REQUIRE CURRENT``, and (8.0.19+) ``FAILED_LOGIN_ATTEMPTS n PASSWORD_LOCK_TIME n|UNBOUNDED``;
- the default plugin is caching_sha2_password on MySQL 8.0 and mysql_native_password on Aurora MySQL
  3, so the partner's password is always set ``IDENTIFIED WITH <source's plugin> BY %s``;
- granting a role needs ROLE_ADMIN (or SUPER), or the role ``WITH ADMIN OPTION``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..profile import Account, AccountProfile, Priv
from .base import Dialect, Statement, lit


class MySQL8Dialect(Dialect):
    name: ClassVar[str] = "mysql8"
    limit_names: ClassVar[tuple[str, ...]] = (
        "MAX_QUERIES_PER_HOUR",
        "MAX_UPDATES_PER_HOUR",
        "MAX_CONNECTIONS_PER_HOUR",
        "MAX_USER_CONNECTIONS",
    )
    policy_defaults: ClassVar[dict[str, str]] = {
        "PASSWORD EXPIRE": "DEFAULT",
        "ACCOUNT": "UNLOCK",
        "PASSWORD HISTORY": "DEFAULT",
        "PASSWORD REUSE INTERVAL": "DEFAULT",
        "PASSWORD REQUIRE CURRENT": "DEFAULT",
        "FAILED_LOGIN_ATTEMPTS": "0",
        "PASSWORD_LOCK_TIME": "0",  # nosec B105: a policy value, not a password
    }
    password_plugins: ClassVar[tuple[str, ...]] = (
        "caching_sha2_password",
        "mysql_native_password",
        "sha256_password",
    )
    session_probe: ClassVar[str] = "SELECT CURRENT_USER(), CURRENT_ROLE()"
    session_probe_names: ClassVar[tuple[str, ...]] = ("active roles",)

    def accounts_query(self, users: Sequence[str]) -> Statement:
        marks = ", ".join(["%s"] * len(users))
        return Statement(  # only placeholders are formatted in; the user names are bound
            f"SELECT User, Host, NULL, NULL FROM mysql.user WHERE User IN ({marks})"  # nosec B608
            " UNION ALL SELECT USER, HOST, DEFAULT_ROLE_USER, DEFAULT_ROLE_HOST FROM mysql.default_roles"
            f" WHERE USER IN ({marks})",
            (*users, *users),
        )

    def default_roles_statement(self, roles: Sequence[str], account: Account) -> Statement:
        listed = lit(", ".join(roles)) if roles else "NONE"
        return Statement(f"ALTER USER %s@%s DEFAULT ROLE {listed}", (account.user, account.host))

    def password_statement(self, account: Account, plugin: str, password: str) -> Statement:
        if plugin not in self.password_plugins:
            raise ValueError(f"plugin {plugin!r} takes no password")
        return Statement(
            f"ALTER USER %s@%s IDENTIFIED WITH {plugin} BY %s", (account.user, account.host, password)
        )

    def master_can_grant_role(self, master: AccountProfile, role: str) -> bool | None:
        global_privs = master.privileges_on("*.*")
        admin = {Priv("ROLE_ADMIN"), Priv("SUPER"), Priv("ALL PRIVILEGES")}
        if admin & global_privs or master.roles.get(role):
            return True
        # Aurora's master user gets ROLE_ADMIN through its default role (rds_superuser_role), which
        # its own SHOW GRANTS does not expand: with any role granted, the grants cannot tell.
        return None if master.roles else False


def role_name(user: str, host: str) -> str:
    """A role as ``SHOW GRANTS`` prints it, from a ``mysql.default_roles`` row."""
    return "`{}`@`{}`".format(user.replace("`", "``"), host.replace("`", "``"))
