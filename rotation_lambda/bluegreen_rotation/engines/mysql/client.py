"""What any user's login can do and tell, as a client would see it: log in, query, describe itself."""

from __future__ import annotations

import contextlib

import pymysql

from ..base import Endpoint, LoginDenied, SessionFacts
from .connection import connect, database_error, dialect_of, text
from .profile import Account, as_set, normalize_session_grant

__all__ = ["can_login", "session_facts", "test_login"]


def can_login(endpoint: Endpoint, user: str, password: str, database: str | None = None) -> bool:
    """True when the credentials log in; False when the server refuses them; any other failure raises."""
    try:
        conn = connect(endpoint, user, password, database)
    except LoginDenied:
        return False
    conn.close()
    return True


def test_login(endpoint: Endpoint, user: str, password: str, database: str | None) -> None:
    """Logs in (to the secret's database, when it names one) and runs a query, as a client would."""
    with contextlib.closing(connect(endpoint, user, password, database)) as conn, conn.cursor() as cur:
        try:
            cur.execute("SELECT CURRENT_USER()")
            cur.fetchall()
        except pymysql.err.MySQLError as exc:
            raise database_error(exc, f"test query as {user!r} failed") from None


def session_facts(endpoint: Endpoint, user: str, password: str, database: str | None) -> SessionFacts:
    """Logs in as a client would and asks the session what it is: its active roles, engine extras
    (MariaDB's per-user max_statement_time) and effective grants (``SHOW GRANTS`` without FOR)."""
    with contextlib.closing(connect(endpoint, user, password, database)) as conn, conn.cursor() as cur:
        dialect = dialect_of(conn)
        try:
            cur.execute(dialect.session_probe)
            row = cur.fetchone() or ()
            cur.execute("SHOW GRANTS")
            lines = [text(r[0]) for r in cur.fetchall()]
        except pymysql.err.MySQLError as exc:
            raise database_error(exc, f"test query as {user!r} failed") from None
    who = text(row[0]) if row else ""
    name, _, host = who.rpartition("@")
    values = {k: as_set(text(v)) for k, v in zip(dialect.session_probe_names, row[1:], strict=False)}
    return SessionFacts(values, frozenset(normalize_session_grant(g, Account(name, host)) for g in lines))
