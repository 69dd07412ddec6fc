"""What a seeded application is, whichever engine seeded it: its own module so that the MariaDB and
PostgreSQL seeders both return it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AppDatabase:
    """What an adopted Aurora secret describes: a database, its app user and the master secret."""

    secret_arn: str
    master_arn: str
    username: str
    dbname: str
