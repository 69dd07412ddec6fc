"""The MySQL/MariaDB ``DatabaseWrapper``: Django's MySQL backend following the flag
(:mod:`bluegreen_db_django.follow`).

Driver: mysqlclient (``MySQLdb``) when installed; otherwise PyMySQL registered as ``MySQLdb`` with all
its submodules (:mod:`bluegreen_db_django.dbapi`: ``pymysql.install_as_MySQLdb()`` alone would make
a second copy of ``pymysql.err``), only when no real MySQLdb exists, so it never shadows mysqlclient.
PyMySQL 1.2 reports ``version_info`` 2.2.8 for Django's driver check (Django 5.2 asks for 1.4.3+), and
is what the layer's sync path uses, so TLS and error codes agree. A PyMySQL connection that should be
encrypted and is not is closed (mysqlclient enforces its ``ssl_mode`` itself).
"""

from __future__ import annotations

from typing import Any

from bluegreen_db.dburl import DbUrl
from bluegreen_db.drivers import pymysql as pymysql_driver
from bluegreen_db.tls import TlsSettings
from bluegreen_db_django.dbapi import install
from bluegreen_db_django.follow import FlagFollowingWrapper

MySQLdb = install()

from django.db.backends.mysql.base import DatabaseWrapper as MySQLDatabaseWrapper  # noqa: E402

_IS_PYMYSQL = getattr(MySQLdb, "__name__", "") == "pymysql"
_MYSQLCLIENT_SSL_MODES = {
    "disable": "DISABLED",
    "require": "REQUIRED",
    "verify-ca": "VERIFY_CA",
    "verify-full": "VERIFY_IDENTITY",
}


def tls_params(tls: TlsSettings) -> dict[str, Any]:
    """The connect arguments that give ``tls`` to the DB-API driver in use (PyMySQL or mysqlclient)."""
    if _IS_PYMYSQL:
        return pymysql_driver.tls_params(tls)
    params: dict[str, Any] = {"ssl_mode": _MYSQLCLIENT_SSL_MODES[tls.mode]}
    if tls.ca_file and tls.mode != "disable":
        params["ssl"] = {"ca": tls.ca_file}
    return params


class DatabaseWrapper(FlagFollowingWrapper, MySQLDatabaseWrapper):  # type: ignore[misc]
    """Django's MySQL ``DatabaseWrapper``, logging in as the current color."""

    def bluegreen_params(self, django_params: dict[str, Any], url: DbUrl) -> dict[str, Any]:
        kwargs = {k: v for k, v in django_params.items() if k not in ("unix_socket", "passwd", "db")}
        kwargs.update(user=url.username, password=url.password, host=url.host, port=url.port)
        kwargs["database"] = self.settings_dict.get("NAME") or url.database or None
        if not self._own_tls:
            kwargs.update(tls_params(self.bluegreen_consumer.tls_for(url)))
        return kwargs

    def bluegreen_check(self, conn: Any, conn_params: dict[str, Any], url: DbUrl) -> None:
        if _IS_PYMYSQL and not self._own_tls:
            tls = self.bluegreen_consumer.tls_for(url)
            pymysql_driver.ensure_encrypted(conn, tls, f"{url.host}:{url.port}")
