"""What the consumers need from a database driver, sync and async.

A driver module (``drivers/pymysql.py``, ``drivers/psycopg.py``...) implements one of these protocols
with module-level functions; :mod:`bluegreen_db.drivers` picks it by the URL's scheme. Nothing outside
``drivers/`` imports a driver package or knows its error codes: the consumer, the SQLAlchemy engines
and the Django backend ask the driver whether the database refused the login.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from bluegreen_db.dburl import DbUrl
from bluegreen_db.tls import TlsSettings


class Driver(Protocol):
    """A sync DB-API driver."""

    #: The SQLAlchemy ``drivername`` that uses this driver.
    SQLALCHEMY_DRIVERNAME: str
    #: Connect arguments every connection gets unless the caller sets them (a bounded connect).
    CONNECT_DEFAULTS: Mapping[str, Any]

    def connect(self, url: DbUrl, tls: TlsSettings, **params: Any) -> Any:
        """A connection as ``url``'s user, with ``tls`` unless ``params`` carry their own TLS options."""
        ...

    def is_login_denied(self, exc: BaseException) -> bool:
        """Whether ``exc`` says the database refused the user or password (worth a refresh)."""
        ...

    def tls_params(self, tls: TlsSettings) -> dict[str, Any]:
        """The connect arguments that make this driver use ``tls``."""
        ...

    def ensure_encrypted(self, conn: Any, tls: TlsSettings, where: str) -> None:
        """Closes ``conn`` and raises :class:`~bluegreen_db.errors.TlsError` if TLS was required
        and the connection is plaintext."""
        ...


class AsyncDriver(Protocol):
    """An asyncio driver."""

    SQLALCHEMY_DRIVERNAME: str
    CONNECT_DEFAULTS: Mapping[str, Any]

    async def connect(self, url: DbUrl, tls: TlsSettings, **params: Any) -> Any:
        """A connection as ``url``'s user, with ``tls`` unless ``params`` carry their own ``ssl``."""
        ...

    def is_login_denied(self, exc: BaseException) -> bool:
        """Whether ``exc`` says the database refused the user or password (worth a refresh)."""
        ...

    def sqlalchemy_params(self, tls: TlsSettings) -> dict[str, Any]:
        """The connect arguments that make SQLAlchemy's asyncio dialect for this driver use ``tls``
        (and never downgrade to plaintext)."""
        ...
