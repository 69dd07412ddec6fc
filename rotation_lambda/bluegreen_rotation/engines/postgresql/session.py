"""What a live session of a role reports about itself: what a client notices after a flip.

- settings: ``pg_settings.reset_val`` with its unit (``9000ms``), the session's value from its role,
  database and server defaults, untouched by the ``SET statement_timeout`` sent ahead of the probe;
- ``current_user`` (a role's ``SET role`` default shows here);
- ``pg_has_role`` for every role the login role is a member of (MEMBER, USAGE and, from PostgreSQL 16
  on, SET), the own (login) role's name normalised so two colors compare equal.

All of it in one query, sent with its ``SET statement_timeout`` in one message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from typing import Any

from psycopg import sql

from ..base import Endpoint, SessionFacts
from .connection import connect, run_last, timeout_statement
from .profile import SELF

__all__ = ["PROBED_SETTINGS", "membership_grants", "probe_statement", "session_facts"]

PROBED_SETTINGS = (
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "search_path",
    "work_mem",
    "maintenance_work_mem",
    "temp_buffers",
    "role",
    "default_transaction_isolation",
    "default_transaction_read_only",
    "TimeZone",
    "DateStyle",
    "row_security",
)

_PROBE_SQL = """
SELECT current_user, session_user,
       (SELECT coalesce(json_agg(json_build_array(s.name, s.reset_val || coalesce(s.unit, ''))), '[]')
          FROM pg_settings s WHERE s.name = ANY({settings})),
       (SELECT coalesce(json_agg(json_build_array(
                 r.rolname, pg_has_role(session_user, r.oid, 'USAGE'){set_column})), '[]')
          FROM pg_roles r
         WHERE r.rolname <> session_user AND pg_has_role(session_user, r.oid, 'MEMBER'))
"""


def probe_statement(endpoint: Endpoint, server_version: int) -> sql.Composed:
    """The bound and the probe as one simple-protocol message: one round trip, the ``SET`` first so
    the probe runs bounded. The message carries no value from outside (the setting names are this
    module's, rendered as a literal by psycopg), so it needs no bound parameter."""
    set_column = ", pg_has_role(session_user, r.oid, 'SET')" if server_version >= 160000 else ""
    probe = sql.SQL(_PROBE_SQL.replace("{set_column}", set_column)).format(
        settings=sql.Literal(list(PROBED_SETTINGS))
    )
    return sql.SQL("{}; {}").format(timeout_statement(endpoint), probe)


def session_facts(endpoint: Endpoint, user: str, password: str, database: str | None) -> SessionFacts:
    context = f"session probe as {user!r}"
    with contextlib.closing(connect(endpoint, user, password, database, bounded=False)) as conn:
        row = run_last(conn, probe_statement(endpoint, conn.info.server_version), context=context)[0]
    own = str(row[1])
    values = {"current_user": _norm(row[0], own)}
    values |= {str(name): _norm(value, own) for name, value in row[2]}
    return SessionFacts(values, membership_grants(row[3], own))


def membership_grants(rows: Iterable[Sequence[Any]], own: str) -> frozenset[str]:
    """``(role, usage[, set])`` rows of ``pg_has_role`` as comparable facts: ``role r: MEMBER USAGE SET``."""
    grants = set()
    for row in rows:
        options = ["MEMBER", *(label for label, on in zip(("USAGE", "SET"), row[1:], strict=False) if on)]
        grants.add(f"role {_norm(row[0], own)}: {' '.join(options)}")
    return frozenset(grants)


def _norm(value: object, own: str) -> str:
    text = "" if value is None else str(value)
    return SELF if text == own else text
