"""PostgreSQL through psycopg 3's own asyncio connection (``psycopg.AsyncConnection``): the asyncio
consumer and SQLAlchemy's ``postgresql+psycopg`` async dialect.

Same TLS mapping, login-refusal rule and bounded connect as :mod:`bluegreen_db.drivers.psycopg`
(one package, one libpq): this module only adds the coroutine that opens and checks a connection.
"""

from __future__ import annotations

from typing import Any

from bluegreen_db.dburl import DbUrl
from bluegreen_db.drivers.psycopg import (
    CONNECT_DEFAULTS,
    SQLALCHEMY_DRIVERNAME,
    connect_params,
    is_login_denied,
    refuse_downgrade,
    tls_params,
)
from bluegreen_db.errors import TlsError
from bluegreen_db.tls import TlsSettings

__all__ = [
    "CONNECT_DEFAULTS",
    "SQLALCHEMY_DRIVERNAME",
    "checked_connect",
    "connect",
    "is_login_denied",
    "sqlalchemy_params",
]


async def checked_connect(*args: Any, **kwargs: Any) -> Any:
    """``psycopg.AsyncConnection.connect`` that never downgrades and never waits unbounded: the
    arguments are checked as the sync driver checks them, and a connection left unencrypted when its
    ``sslmode`` asks for TLS is closed and refused. SQLAlchemy's async dialect calls it as its
    ``async_creator_fn``."""
    import psycopg

    params = {**CONNECT_DEFAULTS, **kwargs}
    refuse_downgrade(params)
    conn = await psycopg.AsyncConnection.connect(*args, **params)
    sslmode = str(params["sslmode"]).lower()
    if sslmode != "disable" and not conn.pgconn.ssl_in_use:
        await conn.close()
        where = f"{params.get('host')}:{params.get('port')}"
        raise TlsError(f"connection to {where} is not encrypted (sslmode {sslmode}); refusing plaintext")
    return conn


async def connect(url: DbUrl, tls: TlsSettings, **params: Any) -> Any:
    """A ``psycopg.AsyncConnection`` as ``url``'s user; ``params`` go to ``AsyncConnection.connect``
    (``sslmode`` and other ``ssl*`` options among them apply over ``tls``)."""
    return await checked_connect(**connect_params(url, tls, params))


def sqlalchemy_params(tls: TlsSettings) -> dict[str, Any]:
    """libpq's TLS options and the checked connection factory (``async_creator_fn``)."""
    return {**tls_params(tls), "async_creator_fn": checked_connect}
