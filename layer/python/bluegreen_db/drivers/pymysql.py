"""MySQL and MariaDB through PyMySQL: the sync driver of the consumer, the SQLAlchemy engine and the
Django backend (where mysqlclient is not installed).

TLS: every mode but ``disable`` hands PyMySQL the consumer's ``SSLContext``; PyMySQL then refuses a
server that offers no TLS, and :func:`ensure_encrypted` checks the socket of every new connection
again. ``disable`` sets ``ssl_disabled`` so PyMySQL does not even try.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bluegreen_db.dburl import DbUrl
from bluegreen_db.errors import TlsError
from bluegreen_db.tls import TlsSettings, has_own_tls

if TYPE_CHECKING:
    from pymysql.connections import Connection

SQLALCHEMY_DRIVERNAME = "mysql+pymysql"
CONNECT_DEFAULTS: Mapping[str, Any] = {}  # PyMySQL bounds a connect itself (connect_timeout 10 s)
ER_ACCESS_DENIED_ERROR = 1045  # MySQL: wrong user or password (also what MySQLdb raises)


def is_login_denied(exc: BaseException) -> bool:
    """True for MySQL error 1045, as PyMySQL, aiomysql (PyMySQL's errors) or MySQLdb raise it."""
    args: tuple[Any, ...] = getattr(exc, "args", ())
    return bool(args) and args[0] == ER_ACCESS_DENIED_ERROR


def tls_params(tls: TlsSettings) -> dict[str, Any]:
    """``ssl=<context>``, or ``ssl_disabled=True`` for ``disable``."""
    ctx = tls.context()
    return {"ssl_disabled": True} if ctx is None else {"ssl": ctx}


def ensure_encrypted(conn: Any, tls: TlsSettings, where: str) -> None:
    """Closes ``conn`` and raises :class:`TlsError` if TLS was required and the socket is plain."""
    if tls.mode == "disable":
        return
    import ssl  # lazy: loading ssl costs a cold start tens of milliseconds

    if isinstance(getattr(conn, "_sock", None), ssl.SSLSocket):
        return
    conn.close()
    raise TlsError(f"connection to {where} is not encrypted (TLS mode {tls.mode}); refusing plaintext")


def connect(url: DbUrl, tls: TlsSettings, **params: Any) -> Connection[Any]:
    """A PyMySQL connection as ``url``'s user; ``params`` go to ``pymysql.connect`` (an ``ssl`` or
    ``ssl_*`` among them replaces ``tls``, and the connection is then not checked)."""
    import pymysql  # lazy: keep the layer's import cheap

    own_tls = has_own_tls(params)
    if not own_tls:
        params.update(tls_params(tls))
    conn = pymysql.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database or None,
        **params,
    )
    if not own_tls:
        ensure_encrypted(conn, tls, f"{url.host}:{url.port}")
    return conn
