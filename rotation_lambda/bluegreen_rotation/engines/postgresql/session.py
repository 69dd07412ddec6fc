"""What a live session of a role reports about itself: what a client notices after a flip.

- settings: ``pg_settings.reset_val`` with its unit (``9000ms``), the session's value from its role,
  database and server defaults, untouched by the ``SET statement_timeout`` this engine runs first;
- ``current_user`` (a role's ``SET role`` default shows here);
- ``pg_has_role`` for every role the login role is a member of (MEMBER, USAGE and, from PostgreSQL 16
  on, SET), the own (login) role's name normalised so two colors compare equal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from typing import Any

from ..base import Endpoint, SessionFacts
from .connection import connect, run
from .profile import SELF

__all__ = ["PROBED_SETTINGS", "membership_grants", "session_facts"]

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

_MEMBERSHIPS_SQL = """
SELECT r.rolname, pg_has_role(session_user, r.oid, 'USAGE'){set_column}
  FROM pg_roles r
 WHERE r.rolname <> session_user AND pg_has_role(session_user, r.oid, 'MEMBER')
"""


def session_facts(endpoint: Endpoint, user: str, password: str, database: str | None) -> SessionFacts:
    with contextlib.closing(connect(endpoint, user, password, database)) as conn:
        who = run(conn, "SELECT current_user, session_user", context=f"session probe as {user!r}")[0]
        settings = run(
            conn,
            "SELECT name, reset_val || coalesce(unit, '') FROM pg_settings WHERE name = ANY(%s)",
            (list(PROBED_SETTINGS),),
            context=f"session probe as {user!r}",
        )
        set_column = ", pg_has_role(session_user, r.oid, 'SET')" if conn.info.server_version >= 160000 else ""
        members = run(
            conn, _MEMBERSHIPS_SQL.format(set_column=set_column), context=f"session probe as {user!r}"
        )
    own = str(who[1])
    values = {"current_user": _norm(who[0], own)}
    values |= {str(name): _norm(value, own) for name, value in settings}
    return SessionFacts(values, membership_grants(members, own))


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
