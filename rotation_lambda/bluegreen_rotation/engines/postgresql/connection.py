"""Connections with psycopg 3: TLS mapped to libpq's ``sslmode``, every call bounded, errors typed.

- TLS: ``disable``/``require``/``verify-ca``/``verify-full`` map to the libpq modes of the same name
  (never ``prefer`` or ``allow``, which fall back to plaintext); the verifying modes get
  ``sslrootcert`` = the CA file (``system`` = the system bundle when none is given, which libpq
  accepts for ``verify-full`` only, so ``verify-ca`` falls back to Python's default CA file). A
  connection that is not encrypted when the mode asks for TLS is closed and refused, whatever libpq
  said.
- Time: ``connect_timeout`` bounds the connect; ``statement_timeout`` is a startup option
  (``options=-c statement_timeout=...``), so bounding the session costs no round trip. A startup
  option becomes the session's reset value, hiding the role's and database's own defaults, so the
  session probe (:mod:`.session`) connects with ``bounded=False`` and sends its ``SET`` itself, in
  the same message as its query (:func:`timeout_statement`).
- Errors: a refused password (SQLSTATE ``28P01``) or a missing role (``28000`` "role does not exist")
  is :class:`~..base.LoginDenied`; anything else is a DatabaseError naming the SQLSTATE and the
  server's message, never the password. libpq reports a failed connect without a SQLSTATE, so the
  connect path recognises the two refusals by the server's (English, as on Aurora) message.
"""

from __future__ import annotations

import math
import re
import ssl
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql

from ...errors import DatabaseError
from ..base import Endpoint, LoginDenied

__all__ = [
    "Connection",
    "connect",
    "connect_error",
    "database_error",
    "is_login_denied",
    "run",
    "run_last",
    "timeout_statement",
    "withheld",
]

Connection = psycopg.Connection[tuple[Any, ...]]

SQLSTATE_INVALID_PASSWORD = "28P01"  # noqa: S105  # nosec B105 - an error code
SQLSTATE_INVALID_AUTHORIZATION = (
    "28000"  # also "no pg_hba.conf entry": a login refusal only for a missing role
)
_DENIED_RE = re.compile(r'password authentication failed for user|role "[^"]*" does not exist')
_MISSING_ROLE_RE = re.compile(r'role "[^"]*" does not exist')
_SSLMODES = {
    "disable": "disable",
    "require": "require",
    "verify-ca": "verify-ca",
    "verify-full": "verify-full",
}


def tls_arguments(endpoint: Endpoint) -> dict[str, Any]:
    """libpq's TLS options for the endpoint's mode; ``require`` gets no root certificate so libpq
    does not silently upgrade it to ``verify-ca`` from a ``~/.postgresql/root.crt``."""
    mode = _SSLMODES[endpoint.tls_mode]
    args: dict[str, Any] = {"sslmode": mode}
    if mode in ("verify-ca", "verify-full"):
        if endpoint.ca_file:
            args["sslrootcert"] = endpoint.ca_file
        elif mode == "verify-full":
            args["sslrootcert"] = "system"
        else:
            args["sslrootcert"] = ssl.get_default_verify_paths().cafile or "system"
    if mode != "disable":
        args["ssl_min_protocol_version"] = "TLSv1.2"
    return args


def connect(
    endpoint: Endpoint, user: str, password: str, database: str | None = None, *, bounded: bool = True
) -> Connection:
    """One autocommit connection, every statement bounded by the endpoint's timeout; with
    ``bounded=False`` the caller's first message must start with :func:`timeout_statement`."""
    where = f"{endpoint.host}:{endpoint.port}"
    options: dict[str, Any] = {"options": f"-c statement_timeout={timeout_ms(endpoint)}ms"} if bounded else {}
    try:
        conn: Connection = psycopg.connect(
            host=endpoint.host,
            port=endpoint.port,
            user=user,
            password=password,
            dbname=database or "postgres",
            connect_timeout=max(1, math.ceil(endpoint.timeout)),
            application_name="bluegreen-rotation",
            autocommit=True,
            **options,
            **tls_arguments(endpoint),
        )
    except psycopg.Error as exc:
        raise connect_error(exc, f"cannot connect to {where} as {user!r}", password) from None
    if endpoint.tls_mode != "disable" and not conn.pgconn.ssl_in_use:
        conn.close()
        raise DatabaseError(f"connection to {where} is not encrypted; refusing plaintext")
    return conn


def timeout_ms(endpoint: Endpoint) -> int:
    return max(1, int(endpoint.timeout * 1000))


def timeout_statement(endpoint: Endpoint) -> sql.Composed:
    """``SET statement_timeout`` to the endpoint's bound: a session value, leaving the reset value
    (the role's, database's or server's default) as a client of the role gets it."""
    return sql.SQL("SET statement_timeout = {}").format(sql.Literal(f"{timeout_ms(endpoint)}ms"))


def connect_error(exc: psycopg.Error, context: str, password: str) -> DatabaseError:
    """The connect failure, typed: LoginDenied for a refused password or unknown role."""
    message = _first_line(str(exc))
    if password and len(password) >= 4 and password in message:
        message = "server message withheld: it quoted the password"
    state = exc.sqlstate
    if is_login_denied(state, message):
        return LoginDenied(f"{context}: ({state or SQLSTATE_INVALID_PASSWORD}) {message}")
    return DatabaseError(f"{context}: ({state or 'connect'}) {message}")


def is_login_denied(state: str | None, message: str) -> bool:
    """28P01, or 28000 naming a missing role; libpq's connect errors carry no SQLSTATE, so then the
    server's message decides."""
    if state == SQLSTATE_INVALID_PASSWORD:
        return True
    if state == SQLSTATE_INVALID_AUTHORIZATION:
        return bool(_MISSING_ROLE_RE.search(message))
    return state is None and bool(_DENIED_RE.search(message))


def database_error(exc: psycopg.Error, context: str, *, secrets: Iterable[str] = ()) -> DatabaseError:
    """A DatabaseError naming the SQLSTATE and the server's primary message; a message quoting one
    of ``secrets`` (or a syntax error, which quotes the statement) is withheld."""
    state = exc.sqlstate
    message = exc.diag.message_primary or _first_line(str(exc)) or type(exc).__name__
    if withheld(state, message, secrets):
        message = "server message withheld: it quoted a statement that carried a password verifier"
    if state is not None and is_login_denied(state, message):
        return LoginDenied(f"{context}: ({state}) {message}")
    return DatabaseError(f"{context}: ({state}) {message}")


def withheld(state: str | None, message: str, secrets: Iterable[str]) -> bool:
    """Whether a server message must not be shown: it may quote a secret-bearing statement."""
    values = [s for s in secrets if s]
    if not values:
        return False
    if state == "42601":  # syntax_error: the message quotes the statement near the fault
        return True
    return any(part in message for s in values if len(s) >= 4 for part in (s, s[:8]))


def run(
    conn: Connection,
    statement: sql.Composable | str,
    args: Iterable[Any] | None = None,
    *,
    context: str = "",
    secrets: Iterable[str] = (),
) -> list[tuple[Any, ...]]:
    """Executes one statement; its rows (empty for a statement that returns none)."""
    try:
        with conn.cursor() as cur:
            cur.execute(statement, args)  # type: ignore[arg-type]
            return list(cur.fetchall()) if cur.description else []
    except psycopg.Error as exc:
        label = context or _label(statement, conn)
        raise database_error(exc, f"{label} failed", secrets=secrets) from None


def run_last(
    conn: Connection, statements: sql.Composed, *, context: str, secrets: Iterable[str] = ()
) -> list[tuple[Any, ...]]:
    """Sends ``statements`` (several, ``;``-separated, no parameters: the simple query protocol) in
    one message; the rows of the last. A failing one stops the rest, the server rolls them back."""
    try:
        with conn.cursor() as cur:
            cur.execute(statements)
            while cur.nextset():
                pass
            return list(cur.fetchall()) if cur.description else []
    except psycopg.Error as exc:
        raise database_error(exc, f"{context} failed", secrets=secrets) from None


def _label(statement: sql.Composable | str, conn: Connection) -> str:
    text = statement if isinstance(statement, str) else statement.as_string(conn)
    return " ".join(re.findall(r"[A-Za-z_]+", text)[:2])


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else ""
