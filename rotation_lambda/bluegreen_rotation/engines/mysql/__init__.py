"""MySQL 8 / Aurora MySQL 3 and MariaDB behind the engine seam (``base.Engine``), with pymysql.

Modules, one job each:
- :mod:`.connection`  one pymysql connection: TLS, timeouts, refusing plaintext, error mapping
                      (1045 is ``base.LoginDenied``), server messages that quote a password withheld;
- :mod:`.client`      what any user's login does: log in, run a query, describe its session;
- :mod:`.admin`       the master user's verbs (``base.Admin``): accounts, profiles, partner, password,
                      sessions, the rotation lock;
- :mod:`.profile`     the account profile parsed from the server's own text (:mod:`.tokens`), and
                      :mod:`.plan`, the changes turning one profile into another (both pure);
- :mod:`.dialects`    where MariaDB and MySQL 8 differ.

Importing this package imports no driver: a secret is validated with :data:`ENGINE`'s attributes
alone, and pymysql is imported on the first connection.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from ..base import Admin, Endpoint, Engine, SessionFacts

__all__ = ["ENGINE", "MySQLEngine"]


class MySQLEngine:
    """The engine for secrets with ``engine`` ``mysql`` or ``aurora-mysql``."""

    name: str = "mysql"
    secret_engines: tuple[str, ...] = ("mysql", "aurora-mysql")
    default_port: int = 3306
    default_dbname: str | None = None
    max_user_name_bytes: int = 32  # MySQL 5.7+ / Aurora MySQL 3 and MariaDB: 32 characters
    default_url_scheme: str = "mysql+pymysql"

    def can_login(self, endpoint: Endpoint, user: str, password: str, database: str | None) -> bool:
        from . import client

        return client.can_login(endpoint, user, password, database)

    def test_login(self, endpoint: Endpoint, user: str, password: str, database: str | None) -> None:
        from . import client

        client.test_login(endpoint, user, password, database)

    def session_facts(
        self, endpoint: Endpoint, user: str, password: str, database: str | None
    ) -> SessionFacts:
        from . import client

        return client.session_facts(endpoint, user, password, database)

    def admin(
        self, endpoint: Endpoint, user: str, password: str, database: str | None
    ) -> AbstractContextManager[Admin]:
        """A master connection with no default database: ``database`` is ignored.

        Every statement of the master's verbs names its schema (``mysql.user``, ``SHOW GRANTS FOR``),
        and the accounts and privileges it reads are server-wide, so the secret's database adds
        nothing; connecting without one keeps a master whose secret names a database that does not
        exist (yet) working, as it always has.
        """
        from .admin import MySQLAdmin

        return MySQLAdmin.open(endpoint, user, password, None)


ENGINE: Engine = MySQLEngine()  # typed, so mypy proves the class implements the seam
