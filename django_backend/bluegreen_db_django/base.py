"""``DatabaseWrapper``, what Django instantiates for ``"ENGINE": "bluegreen_db_django"``: the wrapper of
the engine the current URL's scheme names.

=============================================  ===================================================
URL scheme                                     wrapper
=============================================  ===================================================
``mysql+pymysql``, ``mariadb+pymysql``...      :class:`bluegreen_db_django.mysql.DatabaseWrapper`
``postgresql+psycopg``, ``postgresql``...      :class:`bluegreen_db_django.postgresql.DatabaseWrapper`
=============================================  ===================================================

Django makes a wrapper per alias and thread, when the alias is first used; choosing it reads the
consumer's snapshot (one cached ``GetParameters`` per TTL per process, which the first connection
needs anyway). Each engine's module is imported only when chosen, so a PostgreSQL site never loads
Django's MySQL backend, and a MySQL one never loads psycopg. What the wrappers do is in
:mod:`bluegreen_db_django.follow`.
"""

from __future__ import annotations

from typing import Any

from bluegreen_db.errors import UnsupportedSchemeError
from bluegreen_db.snapshot import check_role
from bluegreen_db_django.follow import FlagFollowingWrapper, consumer_for

__all__ = ["DatabaseWrapper", "FlagFollowingWrapper", "consumer_for", "wrapper_class"]

_MYSQL = ("mysql", "mariadb")
_POSTGRESQL = ("postgresql", "postgres")


def wrapper_class(scheme: str) -> type[FlagFollowingWrapper]:
    """The wrapper class for a URL scheme, by its dialect part (``postgresql`` of
    ``postgresql+psycopg``)."""
    dialect = scheme.partition("+")[0]
    if dialect in _POSTGRESQL:
        from bluegreen_db_django import postgresql

        return postgresql.DatabaseWrapper
    if dialect in _MYSQL:
        from bluegreen_db_django import mysql

        return mysql.DatabaseWrapper
    raise UnsupportedSchemeError(scheme, [f"{d}+..." for d in _MYSQL + _POSTGRESQL])


class DatabaseWrapper:
    """Builds the wrapper of the current URL's engine: ``DatabaseWrapper(settings_dict, alias)``."""

    def __new__(cls, settings_dict: dict[str, Any], alias: str = "default") -> Any:
        options: dict[str, Any] = dict(settings_dict.get("BLUEGREEN") or {})
        role = check_role(options.get("role", "writer"))
        scheme = consumer_for(options).current().url(role).scheme
        return wrapper_class(scheme)(settings_dict, alias)
