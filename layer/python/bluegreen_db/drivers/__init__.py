"""Database drivers, chosen by the URL's scheme: one module per driver, a registry here.

=============================  ======================  ===========================
URL scheme                     sync (``connect``)      asyncio (``AsyncBlueGreenConsumer``)
=============================  ======================  ===========================
``mysql+pymysql``              :mod:`.pymysql`         :mod:`.aiomysql`
``mariadb+pymysql``            :mod:`.pymysql`         :mod:`.aiomysql`
``mysql+aiomysql``             (none)                  :mod:`.aiomysql`
``postgresql+psycopg``         :mod:`.psycopg`         :mod:`.psycopg_async`
``postgresql``, ``postgres``   :mod:`.psycopg`         :mod:`.psycopg_async`
``postgresql+psycopg_async``   (none)                  :mod:`.psycopg_async`
=============================  ======================  ===========================

The scheme is the rotation's ``DB_URL_SCHEME`` (SQLAlchemy's ``dialect+driver`` spelling; the
PostgreSQL engine's default is ``postgresql+psycopg``). Plain ``postgresql``/``postgres`` are what
libpq URIs and most tools write, so they are accepted too and mean psycopg 3; SQLAlchemy would take
plain ``postgresql`` for psycopg2 (and no longer knows ``postgres``), so the engines use the driver's
:attr:`SQLALCHEMY_DRIVERNAME` for a scheme that names no driver (:func:`sqlalchemy_drivername`).

A new engine adds its module here and one line per scheme in ``_SYNC`` / ``_ASYNC``. An unknown
scheme is an :class:`~bluegreen_db.errors.UnsupportedSchemeError` naming the supported ones. Driver
modules are imported on first use, and import their driver package only when they connect:
``import bluegreen_db`` stays cheap, and psycopg is loaded only by a process that uses a PostgreSQL
URL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bluegreen_db.dburl import DbUrl
from bluegreen_db.drivers.base import AsyncDriver, Driver
from bluegreen_db.errors import UnsupportedSchemeError

__all__ = [
    "AsyncDriver",
    "Driver",
    "async_driver_for",
    "driver_for",
    "sqlalchemy_drivername",
    "supported_schemes",
]


def _pymysql() -> Driver:
    from bluegreen_db.drivers import pymysql

    return pymysql


def _aiomysql() -> AsyncDriver:
    from bluegreen_db.drivers import aiomysql

    return aiomysql


def _psycopg() -> Driver:
    from bluegreen_db.drivers import psycopg

    return psycopg


def _psycopg_async() -> AsyncDriver:
    from bluegreen_db.drivers import psycopg_async

    return psycopg_async


# The registry: URL scheme -> the driver module's loader.
_SYNC: Mapping[str, Callable[[], Driver]] = {
    "mysql+pymysql": _pymysql,
    "mariadb+pymysql": _pymysql,
    "postgresql+psycopg": _psycopg,
    "postgresql": _psycopg,
    "postgres": _psycopg,
}
_ASYNC: Mapping[str, Callable[[], AsyncDriver]] = {
    "mysql+pymysql": _aiomysql,
    "mariadb+pymysql": _aiomysql,
    "mysql+aiomysql": _aiomysql,
    "postgresql+psycopg": _psycopg_async,
    "postgresql": _psycopg_async,
    "postgres": _psycopg_async,
    "postgresql+psycopg_async": _psycopg_async,
}


def supported_schemes(asynchronous: bool = False) -> list[str]:
    """The URL schemes a driver is registered for."""
    return sorted(_ASYNC if asynchronous else _SYNC)


def _scheme(url_or_scheme: DbUrl | str) -> str:
    return url_or_scheme.scheme if isinstance(url_or_scheme, DbUrl) else url_or_scheme


def driver_for(url_or_scheme: DbUrl | str) -> Driver:
    """The sync driver for a URL (or a scheme / SQLAlchemy drivername)."""
    scheme = _scheme(url_or_scheme)
    loader = _SYNC.get(scheme)
    if loader is None:
        raise UnsupportedSchemeError(scheme, supported_schemes())
    return loader()


def async_driver_for(url_or_scheme: DbUrl | str) -> AsyncDriver:
    """The asyncio driver for a URL (or a scheme)."""
    scheme = _scheme(url_or_scheme)
    loader = _ASYNC.get(scheme)
    if loader is None:
        raise UnsupportedSchemeError(scheme, supported_schemes(asynchronous=True))
    return loader()


def sqlalchemy_drivername(scheme: str) -> str:
    """The SQLAlchemy ``drivername`` for a URL scheme: the scheme itself when it names a driver
    (``mysql+pymysql``), else the driver the layer uses for it (``postgres`` -> ``postgresql+psycopg``);
    an unknown scheme is returned as it is, for SQLAlchemy to judge."""
    if "+" in scheme:
        return scheme
    loader = _SYNC.get(scheme)
    return loader().SQLALCHEMY_DRIVERNAME if loader is not None else scheme
