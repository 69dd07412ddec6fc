"""Database drivers, chosen by the URL's scheme: one module per driver, a registry here.

=====================  ======================  ===========================
URL scheme             sync (``connect``)      asyncio (``AsyncBlueGreenConsumer``)
=====================  ======================  ===========================
``mysql+pymysql``      :mod:`.pymysql`         :mod:`.aiomysql`
``mariadb+pymysql``    :mod:`.pymysql`         :mod:`.aiomysql`
``mysql+aiomysql``     (none)                  :mod:`.aiomysql`
=====================  ======================  ===========================

The scheme is the rotation's ``DB_URL_SCHEME`` (SQLAlchemy's ``dialect+driver`` spelling). A new
engine adds its module here and one line per scheme in ``_SYNC`` / ``_ASYNC`` (PostgreSQL:
``"postgresql+psycopg"``). An unknown scheme is an :class:`~bluegreen_db.errors.UnsupportedSchemeError`
naming the supported ones. Driver modules are imported on first use, and import their driver package
only when they connect: ``import bluegreen_db`` stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bluegreen_db.dburl import DbUrl
from bluegreen_db.drivers.base import AsyncDriver, Driver
from bluegreen_db.errors import UnsupportedSchemeError

__all__ = ["AsyncDriver", "Driver", "async_driver_for", "driver_for", "supported_schemes"]


def _pymysql() -> Driver:
    from bluegreen_db.drivers import pymysql

    return pymysql


def _aiomysql() -> AsyncDriver:
    from bluegreen_db.drivers import aiomysql

    return aiomysql


# The registry: URL scheme -> the driver module's loader.
_SYNC: Mapping[str, Callable[[], Driver]] = {
    "mysql+pymysql": _pymysql,
    "mariadb+pymysql": _pymysql,
}
_ASYNC: Mapping[str, Callable[[], AsyncDriver]] = {
    "mysql+pymysql": _aiomysql,
    "mariadb+pymysql": _aiomysql,
    "mysql+aiomysql": _aiomysql,
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
