"""The PostgreSQL engine (:class:`~..base.Engine`): psycopg is imported when a verb first runs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..base import Endpoint, LoginDenied, SessionFacts

if TYPE_CHECKING:
    from .admin import PostgreSQLAdmin

__all__ = ["PostgreSQLEngine"]


class PostgreSQLEngine:
    """PostgreSQL and Aurora PostgreSQL: role names up to 63 bytes (NAMEDATALEN - 1)."""

    name: str = "postgresql"
    secret_engines: tuple[str, ...] = ("postgres", "aurora-postgresql")
    default_port: int = 5432
    default_dbname: str | None = "postgres"
    max_user_name_bytes: int = 63
    default_url_scheme: str = "postgresql+psycopg"

    def can_login(self, endpoint: Endpoint, user: str, password: str, database: str | None) -> bool:
        from .connection import connect

        try:
            conn = connect(endpoint, user, password, database)
        except LoginDenied:
            return False
        conn.close()
        return True

    def test_login(self, endpoint: Endpoint, user: str, password: str, database: str | None) -> None:
        from .connection import connect, run

        with contextlib.closing(connect(endpoint, user, password, database)) as conn:
            run(conn, "SELECT current_user", context=f"test query as {user!r}")

    def session_facts(
        self, endpoint: Endpoint, user: str, password: str, database: str | None
    ) -> SessionFacts:
        from .session import session_facts

        return session_facts(endpoint, user, password, database)

    @contextlib.contextmanager
    def admin(
        self, endpoint: Endpoint, user: str, password: str, database: str | None
    ) -> Iterator[PostgreSQLAdmin]:
        from .admin import PostgreSQLAdmin
        from .connection import connect

        with contextlib.closing(connect(endpoint, user, password, database)) as conn:
            yield PostgreSQLAdmin(conn)
