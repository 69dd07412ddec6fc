"""MySQL and MariaDB through aiomysql: the asyncio driver (the ``async`` extra, pinned).

aiomysql is built on PyMySQL (its errors, converters, URL and ``ssl`` semantics are PyMySQL's), so the
sync and async paths agree on TLS behaviour and error codes (a refused login is PyMySQL's 1045).
asyncmy would be faster per query, but re-implements the protocol in Cython with its own error
classes and TLS handling.

aiomysql falls back to plaintext when the server offers no TLS, whatever ``ssl`` says (0.3.2,
``Connection._request_authentication``): :func:`tls_checked_connect` refuses before authenticating.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bluegreen_db.dburl import DbUrl
from bluegreen_db.drivers.pymysql import is_login_denied
from bluegreen_db.errors import TlsError
from bluegreen_db.tls import TlsSettings

if TYPE_CHECKING:
    import ssl

__all__ = [
    "CONNECT_DEFAULTS",
    "SQLALCHEMY_DRIVERNAME",
    "connect",
    "is_login_denied",
    "sqlalchemy_params",
    "tls_checked_connect",
]

SQLALCHEMY_DRIVERNAME = "mysql+aiomysql"
CONNECT_DEFAULTS: Mapping[str, Any] = {}  # aiomysql bounds a connect itself (connect_timeout)
CLIENT_SSL = 2048  # PyMySQL's constants.CLIENT.SSL: the server offers TLS

_connection_class: type[Any] | None = None


def _checked_class() -> type[Any]:
    """aiomysql's Connection, refusing to authenticate in plaintext when TLS was asked for."""
    global _connection_class  # noqa: PLW0603 - built once, on first use (aiomysql imports lazily)
    if _connection_class is None:
        import aiomysql

        class TlsCheckedConnection(aiomysql.Connection):  # type: ignore[misc]
            async def _request_authentication(self) -> None:
                if self._ssl_context and not self.server_capabilities & CLIENT_SSL:
                    raise TlsError(
                        f"{self._host}:{self._port} offers no TLS and TLS was required; "
                        "refusing plaintext (nothing was sent)"
                    )
                await super()._request_authentication()

        _connection_class = TlsCheckedConnection
    return _connection_class


async def tls_checked_connect(*, ssl: ssl.SSLContext | None = None, **kwargs: Any) -> Any:
    """``aiomysql.connect`` that never downgrades: with ``ssl``, a server without TLS is refused."""
    conn = _checked_class()(ssl=ssl, **kwargs)
    try:
        await conn._connect()
    except BaseException:
        conn.close()
        raise
    return conn


async def connect(url: DbUrl, tls: TlsSettings, **params: Any) -> Any:
    """An aiomysql connection as ``url``'s user; ``params`` go to ``aiomysql.connect`` (a caller's
    ``ssl`` replaces ``tls``)."""
    if "ssl" not in params:
        params["ssl"] = tls.context()
    return await tls_checked_connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        db=url.database or None,
        **params,
    )


def sqlalchemy_params(tls: TlsSettings) -> dict[str, Any]:
    """``ssl`` and the connection factory SQLAlchemy's aiomysql dialect calls (``async_creator_fn``):
    the dialect alone would connect through plain ``aiomysql.connect``, which downgrades."""
    return {"ssl": tls.context(), "async_creator_fn": tls_checked_connect}
