"""The PostgreSQL ``DatabaseWrapper``: Django's PostgreSQL backend (psycopg 3) following the flag
(:mod:`bluegreen_db_django.follow`).

Connect arguments: Django's own (``context``, ``cursor_factory``, ``prepare_threshold``,
``OPTIONS``...) with user, password, host, port and ``dbname`` from the snapshot (``NAME`` overrides
the URL's database), libpq's ``sslmode``/``sslrootcert`` from the consumer's TLS settings
(:mod:`bluegreen_db.drivers.psycopg`) unless ``OPTIONS`` carries its own ``ssl*`` options, and a
bounded ``connect_timeout`` (libpq waits forever by default). ``sslmode`` ``prefer``/``allow`` (or
none at all, which is libpq's ``prefer``) are refused, and every connection whose ``sslmode`` asks
for TLS is checked to be encrypted.

Django's connection pool (``OPTIONS["pool"]``) is refused: the pool would keep the credentials it was
created with, so its connections would stop following the flag. ``CONN_MAX_AGE`` gives persistent
connections that do follow it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql.base import DatabaseWrapper as PostgreSQLDatabaseWrapper

from bluegreen_db.dburl import DbUrl
from bluegreen_db.drivers import psycopg as psycopg_driver
from bluegreen_db_django.follow import FlagFollowingWrapper


class DatabaseWrapper(FlagFollowingWrapper, PostgreSQLDatabaseWrapper):  # type: ignore[misc]
    """Django's PostgreSQL ``DatabaseWrapper``, logging in as the current color."""

    def __init__(self, settings_dict: dict[str, Any], alias: str = "default") -> None:
        if (settings_dict.get("OPTIONS") or {}).get("pool"):
            raise ImproperlyConfigured(
                "bluegreen_db_django: OPTIONS['pool'] is not supported, its connections would keep the "
                "credentials of the pool's creation; use CONN_MAX_AGE for persistent connections"
            )
        super().__init__(settings_dict, alias)

    def _django_params(self, url: DbUrl) -> dict[str, Any]:
        # Django refuses an empty NAME; the URL names the database, so show Django that one.
        saved = self.settings_dict
        self.settings_dict = {**saved, "NAME": saved.get("NAME") or url.database or "postgres"}
        try:
            return super()._django_params(url)
        finally:
            self.settings_dict = saved

    def bluegreen_params(self, django_params: dict[str, Any], url: DbUrl) -> dict[str, Any]:
        kwargs = {k: v for k, v in django_params.items() if k != "service"}
        if not self._own_tls:
            kwargs.update(psycopg_driver.tls_params(self.bluegreen_consumer.tls_for(url)))
        kwargs.setdefault("connect_timeout", self.bluegreen_consumer.connect_timeout)
        psycopg_driver.refuse_downgrade(kwargs)
        kwargs.update(
            user=url.username,
            password=url.password,
            host=url.host,
            port=url.port,
            dbname=self.settings_dict.get("NAME") or url.database or "postgres",
        )
        return kwargs

    def bluegreen_check(self, conn: Any, conn_params: dict[str, Any], url: DbUrl) -> None:
        tls = self.bluegreen_consumer.tls_for(url)
        psycopg_driver.ensure_encrypted(conn, tls, f"{url.host}:{url.port}", conn_params.get("sslmode"))
