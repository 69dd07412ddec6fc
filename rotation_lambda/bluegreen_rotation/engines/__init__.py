"""Database engines behind one seam (:mod:`.base`): ``mysql`` (MySQL 8 / Aurora MySQL 3, MariaDB) and
``postgresql`` (PostgreSQL / Aurora PostgreSQL).

An engine package is imported only when a secret names it, so a MySQL rotation never imports
psycopg (cold start) and a PostgreSQL one never imports pymysql. Each package exposes ``ENGINE``.
"""

from __future__ import annotations

import importlib
from typing import cast

from ..errors import InvalidInputError
from .base import Engine

__all__ = ["SECRET_ENGINES", "engine_for"]

_PACKAGES = {
    "mysql": "mysql",
    "aurora-mysql": "mysql",
    "postgres": "postgresql",
    "aurora-postgresql": "postgresql",
}
SECRET_ENGINES: tuple[str, ...] = tuple(_PACKAGES)
"""Every value of the secret's ``engine`` key that some engine serves."""


def engine_for(secret_engine: str) -> Engine:
    """The engine serving a secret's ``engine`` value; InvalidInputError names the supported ones."""
    package = _PACKAGES.get(secret_engine)
    if package is None:
        raise InvalidInputError(
            f"engine {secret_engine!r} is not supported (expected one of {', '.join(SECRET_ENGINES)})"
        )
    module = importlib.import_module(f"{__name__}.{package}")
    return cast(Engine, module.ENGINE)
