"""An application database and the two secrets an RDS-managed setup would have (app and master).

:func:`seed_application` is the one entry point: the server it is given decides the engine (a
:class:`~.mariadb.MariaDB` seeds a MySQL app user, a :class:`~.postgresql.PostgreSQL` the PostgreSQL
shape of :mod:`.postgresql_seeding`), so tests, bench and the demo seed either the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .app_database import AppDatabase, register_secrets
from .mariadb import ADMIN_USER, MariaDB

if TYPE_CHECKING:
    from .postgresql import PostgreSQL


def seed_application(
    db: MariaDB | PostgreSQL,
    secretsmanager: Any,
    *,
    name: str = "app/aurora",
    username: str = "app",
    password: str = "app-initial-Passw0rd",
    dbname: str = "appdb",
    user_host: str = "%",
    engine: str | None = None,
    extra_secret: dict[str, Any] | None = None,
    master_extra: dict[str, Any] | None = None,
) -> AppDatabase:
    """Creates a database with one app user and the two secrets an RDS-managed setup would have.

    ``engine`` is the secret's ``engine`` value (default ``aurora-mysql`` / ``aurora-postgresql``, as
    the server's engine is); ``user_host`` is MySQL's host part (PostgreSQL roles have none).
    On MariaDB the app user gets realistic grants (a database-level grant, a table-level grant and an
    escaped wildcard grant) so that cloning its privileges is exercised for real.
    """
    if not isinstance(db, MariaDB):
        from .postgresql_seeding import seed_postgresql_application

        return seed_postgresql_application(
            db,
            secretsmanager,
            name=name,
            username=username,
            password=password,
            dbname=dbname,
            engine=engine or "aurora-postgresql",
            extra_secret=extra_secret,
            master_extra=master_extra,
        )
    db.execute(f"CREATE DATABASE IF NOT EXISTS `{dbname}`")
    db.execute(f"CREATE TABLE IF NOT EXISTS `{dbname}`.`items` (id INT PRIMARY KEY, name VARCHAR(64))")
    db.execute(f"INSERT IGNORE INTO `{dbname}`.`items` VALUES (1, 'one'), (2, 'two')")
    db.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (username, user_host, password))
    db.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{dbname}`.* TO %s@%s", (username, user_host))
    db.execute(f"GRANT SELECT ON `{dbname}\\_archive`.* TO %s@%s", (username, user_host))
    return register_secrets(
        secretsmanager,
        name,
        master={
            "username": ADMIN_USER,
            "password": db.admin_password,
            "engine": "mysql",
            "host": db.host,
            "port": db.port,
            **(master_extra or {}),
        },
        app={
            "engine": engine or "aurora-mysql",
            "host": db.host,
            "port": db.port,
            "username": username,
            "password": password,
            "dbname": dbname,
            **(extra_secret or {}),
        },
    )
