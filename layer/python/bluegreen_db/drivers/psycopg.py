"""PostgreSQL through psycopg 3: the sync driver (consumer, SQLAlchemy ``postgresql+psycopg``, Django)
and the asyncio one (``psycopg.AsyncConnection``, SQLAlchemy's own async psycopg dialect).

TLS: the layer's four modes are libpq ``sslmode`` values of the same name. libpq's default
(``prefer``) and ``allow`` fall back to plaintext, so they are never used and a caller's ``sslmode``
naming them is refused. The verifying modes get ``sslrootcert`` = the CA file
(``BLUEGREEN_DB_TLS_CA_FILE``, or a URL's ``?sslrootcert=``), else libpq's ``system`` (the system
bundle, which libpq accepts for ``verify-full`` only, so ``verify-ca`` takes Python's default CA
file). ``require`` gets no ``sslrootcert``, even with a CA file set: given one, libpq verifies the
chain (``require`` then behaves as ``verify-ca``), which is not what the mode means. Every connection
that should be encrypted is checked (``pgconn.ssl_in_use``) and closed if it is not, whatever libpq
said.

Why the mapping is written here again rather than imported from the rotation function's PostgreSQL
engine: the layer ships alone (no ``bluegreen_rotation`` in a consumer's Lambda) and must stay
importable without the function's code; the mapping is four names and the ``sslrootcert`` rule.

A refused login is SQLSTATE ``28P01`` (wrong password), or ``28000`` naming a missing role (the
other color's role before its first rotation). libpq reports a failed connect without a SQLSTATE,
so then the server's (English, as on Aurora) message decides, as in the engine's ``connection.py``.

psycopg is imported on first use: the layer's import stays cheap and MySQL users never load it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from bluegreen_db.dburl import DbUrl
from bluegreen_db.errors import TlsError
from bluegreen_db.settings import DEFAULT_CONNECT_TIMEOUT
from bluegreen_db.tls import TlsMode, TlsSettings

__all__ = [
    "CONNECT_DEFAULTS",
    "SQLALCHEMY_DRIVERNAME",
    "connect",
    "connect_params",
    "ensure_encrypted",
    "is_login_denied",
    "refuse_downgrade",
    "tls_params",
]

SQLALCHEMY_DRIVERNAME = "postgresql+psycopg"
#: libpq waits forever by default; every connect of the layer is bounded.
CONNECT_DEFAULTS: Mapping[str, Any] = {"connect_timeout": DEFAULT_CONNECT_TIMEOUT}
SQLSTATE_INVALID_PASSWORD = "28P01"  # noqa: S105  # nosec B105 - an error code
SQLSTATE_INVALID_AUTHORIZATION = "28000"  # also "no pg_hba.conf entry": a refusal only for a missing role
DOWNGRADING_SSLMODES = ("prefer", "allow")
_DENIED_RE = re.compile(r'password authentication failed for user|role "[^"]*" does not exist')
_MISSING_ROLE_RE = re.compile(r'role "[^"]*" does not exist')
_SSLMODES: Mapping[TlsMode, str] = {
    "disable": "disable",
    "require": "require",
    "verify-ca": "verify-ca",
    "verify-full": "verify-full",
}


def is_login_denied(exc: BaseException) -> bool:
    """28P01, or 28000 naming a missing role; a psycopg error without a SQLSTATE (libpq's connect
    failures) counts when the server's message says the same."""
    state = getattr(exc, "sqlstate", None)
    if state == SQLSTATE_INVALID_PASSWORD:
        return True
    message = str(exc)
    if state == SQLSTATE_INVALID_AUTHORIZATION:
        return bool(_MISSING_ROLE_RE.search(message))
    if state is not None:
        return False
    import psycopg

    return isinstance(exc, psycopg.Error) and bool(_DENIED_RE.search(message))


def tls_params(tls: TlsSettings) -> dict[str, Any]:
    """libpq's ``sslmode`` (and ``sslrootcert``, ``ssl_min_protocol_version``) for ``tls``."""
    mode = _SSLMODES[tls.mode]
    params: dict[str, Any] = {"sslmode": mode}
    if mode in ("verify-ca", "verify-full"):
        if tls.ca_file:
            params["sslrootcert"] = tls.ca_file
        elif mode == "verify-full":
            params["sslrootcert"] = "system"
        else:
            import ssl  # lazy: loading ssl costs a cold start tens of milliseconds

            params["sslrootcert"] = ssl.get_default_verify_paths().cafile or "system"
    if mode != "disable":
        params["ssl_min_protocol_version"] = "TLSv1.2"  # as the layer's SSLContext for MySQL
    return params


def connect_params(url: DbUrl, tls: TlsSettings, params: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``psycopg.connect``: ``url``'s credentials, ``tls`` under the caller's
    own ``ssl*`` options, and a bounded ``connect_timeout``.

    A caller's ``sslmode`` of ``prefer``/``allow`` is refused (both fall back to plaintext), and so is
    a ``connect_timeout`` that is not a positive number of seconds (libpq's 0 waits forever).
    """
    merged: dict[str, Any] = {**CONNECT_DEFAULTS, **tls_params(tls), **params}
    refuse_downgrade(merged)
    merged.update(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        dbname=url.database or "postgres",
    )
    return merged


def refuse_downgrade(params: dict[str, Any]) -> None:
    """Refuses connect arguments that could end in plaintext or wait forever; normalises the timeout.

    No ``sslmode`` is libpq's ``prefer``; ``prefer`` and ``allow`` fall back to plaintext. A
    ``connect_timeout`` must be a positive number of seconds (libpq's 0 waits forever); libpq takes
    whole seconds, so it is rounded up.
    """
    sslmode = str(params.get("sslmode") or "prefer").lower()
    if sslmode in DOWNGRADING_SSLMODES:
        raise ValueError(
            f"sslmode {sslmode!r} falls back to plaintext: use disable, require, verify-ca or verify-full"
        )
    timeout = params.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT)
    try:
        seconds = float(timeout)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise ValueError(f"connect_timeout must be a positive number of seconds, got {timeout!r}")
    params["connect_timeout"] = max(1, math.ceil(seconds))


def ensure_encrypted(conn: Any, tls: TlsSettings, where: str, sslmode: str | None = None) -> None:
    """Closes ``conn`` and raises :class:`TlsError` when it should be encrypted and is not.

    ``sslmode`` is the one the connection was opened with, if the caller chose it; otherwise ``tls``
    decides.
    """
    effective = (sslmode or _SSLMODES[tls.mode]).lower()
    if effective == "disable" or conn.pgconn.ssl_in_use:
        return
    conn.close()
    raise TlsError(f"connection to {where} is not encrypted (sslmode {effective}); refusing plaintext")


def connect(url: DbUrl, tls: TlsSettings, **params: Any) -> Any:
    """A ``psycopg.Connection`` as ``url``'s user; ``params`` go to ``psycopg.connect`` (``sslmode``
    and other ``ssl*`` options among them apply over ``tls``)."""
    import psycopg

    kwargs = connect_params(url, tls, params)
    conn = psycopg.connect(**kwargs)
    ensure_encrypted(conn, tls, f"{url.host}:{url.port}", kwargs["sslmode"])
    return conn
