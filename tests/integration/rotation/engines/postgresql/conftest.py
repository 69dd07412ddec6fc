"""The session's one PostgreSQL 15 server (TLS, SCRAM, ``log_statement=all``), unique names per test.

:class:`Pair` builds a source role the way an operator would (as the bootstrap superuser), then does
what setSecret does through the engine: read both roles, ask ``unreproducible``, create the partner,
clone the profile, set the partner's password; tests then log in as the partner and try.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg import sql

from bluegreen_ops.devstack.postgresql import MASTER_USER, PostgreSQL
from bluegreen_rotation.engines.base import AccountState, Endpoint
from bluegreen_rotation.engines.postgresql import ENGINE
from bluegreen_rotation.engines.postgresql.admin import PostgreSQLAdmin
from tests.engine_stacks import STACK_NUMBERS

APP_DB = "appdb"
OBJECTS_OWNER = "objects_owner"
"""Owns the test objects, as a shared owner role would; the master is a member (on Aurora the master
creates it), so it may grant on them, as it may on Aurora."""


@pytest.fixture(scope="session")
def pg(postgresql_server: PostgreSQL) -> PostgreSQL:
    """The session's PostgreSQL (``tests/conftest.py``), shared with the rotation suites, with this
    suite's database and owner role added (the rotation suites' names never collide with them)."""
    server = postgresql_server
    server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(APP_DB)))
    server.execute(f"CREATE ROLE {OBJECTS_OWNER} NOLOGIN")
    server.execute(f"GRANT {OBJECTS_OWNER} TO {MASTER_USER}")
    server.execute(f"GRANT CREATE ON SCHEMA public TO {OBJECTS_OWNER}", dbname=APP_DB)
    return server


def endpoint_of(pg: PostgreSQL) -> Endpoint:
    return Endpoint(pg.host, pg.port, "verify-full", pg.ca_file, 5.0)


def new_password() -> str:
    return "Pw-" + secrets.token_urlsafe(24)


@dataclass
class Pair:
    """A source role and its partner on the session's server, with unique names."""

    pg: PostgreSQL
    n: int
    source_password: str = field(default_factory=new_password)
    partner_password: str = field(default_factory=new_password)
    database: str = APP_DB

    @property
    def source(self) -> str:
        return f"app{self.n}"

    @property
    def partner(self) -> str:
        return f"app{self.n}_green"

    def name(self, stem: str) -> str:
        """A per-test object or role name."""
        return f"{stem}{self.n}"

    @property
    def endpoint(self) -> Endpoint:
        return endpoint_of(self.pg)

    def sql(
        self, statement: str | sql.Composable, args: Any = None, dbname: str | None = None
    ) -> list[tuple[Any, ...]]:
        """As the bootstrap superuser, in the app database unless told."""
        return self.pg.execute(statement, args, dbname=dbname or self.database)

    def own(self, statement: str, dbname: str | None = None) -> None:
        """A statement run as the shared owner role: the objects it creates are that role's."""
        self.pg.execute(f"SET ROLE {OBJECTS_OWNER}; {statement}", dbname=dbname or self.database)

    def create_source(self, options: str = "") -> None:
        with self.pg.connection(self.database) as conn:
            verifier = conn.pgconn.encrypt_password(
                self.source_password.encode(), self.source.encode(), b"scram-sha-256"
            ).decode()
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN " + options + " PASSWORD {}").format(
                    sql.Identifier(self.source), sql.Literal(verifier)
                )
            )

    @contextlib.contextmanager
    def admin(self) -> Iterator[PostgreSQLAdmin]:
        with ENGINE.admin(self.endpoint, MASTER_USER, self.pg.master_password, self.database) as admin:
            assert isinstance(admin, PostgreSQLAdmin)
            yield admin

    def states(self) -> tuple[AccountState, AccountState | None]:
        with self.admin() as admin:
            states = admin.account_states(self.source, self.partner)
        source = states[self.source]
        assert source is not None
        return source, states[self.partner]

    def rotate(self) -> list[str]:
        """What setSecret does: refuse what cannot be reproduced, create, clone, set the password."""
        with self.admin() as admin:
            states = admin.account_states(self.source, self.partner)
            source, partner = states[self.source], states[self.partner]
            assert source is not None
            assert admin.unreproducible(source) == []
            assert admin.partner_problems(source, partner) == []
            if partner is None:
                partner = admin.create_partner(source, self.partner)
            kinds = admin.clone_profile(source, partner)
            admin.set_password(source, partner, self.partner_password)
        source, partner = self.states()
        assert partner is not None
        assert source.profile.differences(partner.profile, mine=self.source, theirs=self.partner) == []
        return kinds

    @contextlib.contextmanager
    def login(self, role: str | None = None, dbname: str | None = None) -> Iterator[psycopg.Connection[Any]]:
        """A client session as ``role`` (the partner by default), over verified TLS."""
        role = role or self.partner
        password = self.partner_password if role == self.partner else self.source_password
        with psycopg.connect(
            host=self.pg.host,
            port=self.pg.port,
            user=role,
            password=password,
            dbname=dbname or self.database,
            sslmode="verify-full",
            sslrootcert=self.pg.ca_file,
            autocommit=True,
        ) as conn:
            yield conn


@pytest.fixture
def pair(pg: PostgreSQL) -> Pair:
    return Pair(pg, next(STACK_NUMBERS))


def denied(conn: psycopg.Connection[Any], statement: str) -> bool:
    """True when the statement fails with insufficient_privilege (42501)."""
    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False
