"""An application database and the two secrets an RDS-managed setup would have (app and master).

:func:`seed_application` is the one entry point: the server it is given decides the engine (a
:class:`~.mariadb.MariaDB` seeds a MySQL app user, a :class:`~.postgresql.PostgreSQL` the PostgreSQL
shape of :mod:`.postgresql_seeding`), so tests, bench and the demo seed either the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .mariadb import ADMIN_USER, MariaDB

if TYPE_CHECKING:
    from .postgresql import PostgreSQL


@dataclass
class AppDatabase:
    """What an adopted Aurora secret describes: a database, its app user and the master secret."""

    secret_arn: str
    master_arn: str
    username: str
    dbname: str


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
    master = secretsmanager.create_secret(
        Name=f"{name}/master",
        SecretString=json.dumps(
            {
                "username": ADMIN_USER,
                "password": db.admin_password,
                "engine": "mysql",
                "host": db.host,
                "port": db.port,
                **(master_extra or {}),
            }
        ),
    )
    secret = secretsmanager.create_secret(
        Name=name,
        SecretString=json.dumps(
            {
                "engine": engine or "aurora-mysql",
                "host": db.host,
                "port": db.port,
                "username": username,
                "password": password,
                "dbname": dbname,
                "masterarn": master["ARN"],
                **(extra_secret or {}),
            }
        ),
    )
    return AppDatabase(secret_arn=secret["ARN"], master_arn=master["ARN"], username=username, dbname=dbname)
