"""One pymysql connection: TLS (never a silent plaintext fallback), timeouts, and error mapping.

Every failure becomes a :class:`DatabaseError` whose message carries the server's code and text but
never a password: a server refusing credentials (1045) is the seam's :class:`LoginDenied`, and a
server message quoting a statement that held a password is withheld.
"""

from __future__ import annotations

import ssl
from typing import Any

import pymysql
import pymysql.converters
from pymysql.connections import Connection
from pymysql.constants import ER

from bluegreen_db.tls import TlsMode, client_context

from ...errors import DatabaseError
from ..base import Endpoint, LoginDenied
from .dialects import Dialect, dialect_for

__all__ = ["ACCESS_DENIED", "connect", "database_error", "dialect_of", "text", "tls_context"]

ACCESS_DENIED = ER.ACCESS_DENIED_ERROR  # 1045


def tls_context(mode: TlsMode, ca_file: str | None) -> ssl.SSLContext | None:
    """The client TLS context for a mode (the layer's, so the function and its consumers agree).

    Every mode but ``disable`` hands pymysql a context, and pymysql then refuses a server without TLS
    instead of falling back to plaintext (checked again in :func:`connect`).
    """
    return client_context(mode, ca_file)


def connect(endpoint: Endpoint, user: str, password: str, database: str | None = None) -> Connection[Any]:
    """Opens one connection; errors carry the server's code and text, never the password."""
    ctx = tls_context(endpoint.tls_mode, endpoint.ca_file)
    try:
        conn: Connection[Any] = pymysql.connect(
            host=endpoint.host,
            port=endpoint.port,
            user=user,
            password=password,
            database=database or None,
            connect_timeout=endpoint.timeout,
            # pymysql reads the server greeting with the *read* timeout: without one, a server that
            # accepts but never answers hangs the function until Lambda kills it.
            read_timeout=endpoint.timeout,
            write_timeout=endpoint.timeout,
            ssl=ctx,
            ssl_disabled=ctx is None,
            autocommit=True,
            charset="utf8mb4",
        )
    except pymysql.err.MySQLError as exc:
        raise database_error(exc, f"cannot connect to {endpoint.host}:{endpoint.port} as {user!r}") from None
    except (OSError, ssl.SSLError) as exc:
        raise DatabaseError(
            f"cannot connect to {endpoint.host}:{endpoint.port} as {user!r}: {type(exc).__name__}: {exc}"
        ) from None
    if ctx is not None and not isinstance(getattr(conn, "_sock", None), ssl.SSLSocket):
        conn.close()
        raise DatabaseError(
            f"connection to {endpoint.host}:{endpoint.port} is not encrypted; refusing plaintext"
        )
    return conn


def dialect_of(conn: Connection[Any]) -> Dialect:
    """The server's dialect, from the version string of its greeting (no round trip)."""
    version = getattr(conn, "server_version", "")  # set from the greeting; not in pymysql's stubs
    try:
        return dialect_for(version.decode() if isinstance(version, bytes) else str(version))
    except ValueError as exc:
        raise DatabaseError(str(exc)) from None


def text(value: Any) -> str:
    """A column value as text (pymysql returns bytes for some ``SHOW`` columns)."""
    if isinstance(value, bytes | bytearray):
        return value.decode()
    return "" if value is None else str(value)


def _appears(secret: str, message: str) -> bool:
    """Whether a password, or a fragment a server would quote of it, is in a message."""
    if len(secret) < 4:
        return False
    escaped = pymysql.converters.escape_string(secret)
    return any(part in message for part in {secret, escaped, secret[:8], escaped[:8]})


def database_error(
    exc: pymysql.err.MySQLError, context: str, *, secrets: list[str] | None = None
) -> DatabaseError:
    """The error to raise for a server error: :class:`LoginDenied` for 1045, DatabaseError otherwise.

    ``secrets``: the string values the failed statement carried; a message quoting one of them (or
    any parse error, which quotes the statement near the fault) is withheld.
    """
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    message = str(exc.args[1]) if len(exc.args) > 1 else type(exc).__name__
    if secrets is not None and (code == ER.PARSE_ERROR or any(_appears(s, message) for s in secrets)):
        # A parse error quotes the statement near the fault, and this statement held a password.
        message = "server message withheld: it quoted a statement that carried a password"
    kind = LoginDenied if code == ACCESS_DENIED else DatabaseError
    error = kind(f"{context}: ({code}) {message}")
    error.code = code
    return error
