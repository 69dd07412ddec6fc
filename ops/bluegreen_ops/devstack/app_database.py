"""What a seeded application is, whichever engine seeded it: its own module so that the MariaDB and
PostgreSQL seeders both return it without importing each other."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass
class AppDatabase:
    """What an adopted Aurora secret describes: a database, its app user and the master secret."""

    secret_arn: str
    master_arn: str
    username: str
    dbname: str


def register_secrets(
    secretsmanager: Any, name: str, *, master: dict[str, Any], app: dict[str, Any]
) -> AppDatabase:
    """Creates the two secrets an RDS-managed setup has, whichever engine seeded them: ``{name}/master``
    (the admin user) and ``name`` (the app user's, naming the master by ARN as ``masterarn`` unless
    ``app`` says otherwise, as a test of bad input may)."""
    master_arn = secretsmanager.create_secret(Name=f"{name}/master", SecretString=json.dumps(master))["ARN"]
    secret = secretsmanager.create_secret(
        Name=name, SecretString=json.dumps({"masterarn": master_arn, **app})
    )
    return AppDatabase(
        secret_arn=secret["ARN"], master_arn=master_arn, username=app["username"], dbname=app["dbname"]
    )
