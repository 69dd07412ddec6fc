"""Rotations of a PostgreSQL secret played at the database and Parameter Store level, for the consumer
tests: what the rotation function leaves behind, without the function.

A rotation here is what setSecret then finishSecret leave for consumers: the color the flag does not
name gets a new password (``ALTER ROLE ... PASSWORD '<SCRAM verifier>'`` as the master, so the
cleartext never reaches the server), its writer and reader URLs are written, then the flag. As the
real rotation does, it waits out the grace period since the previous flip before it changes a
password, and it refuses (``sessions_of``) when the color it changes still has sessions, the
``ACTIVE_SESSION_POLICY=fail`` guard.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg import sql

from bluegreen_db.dburl import build_url
from bluegreen_db.naming import COLORS, ROLES, Color, ParameterNames, other_color
from bluegreen_ops.devstack.postgresql import MASTER_USER, PostgreSQL

SCHEME = "postgresql+psycopg"
DATABASE = "layerdb"
_counter = itertools.count(1)


def new_password() -> str:
    return "Pg-" + secrets.token_urlsafe(24)


@dataclass
class PgRotations:
    """Two login roles (``blue``'s and ``green``'s) on the server and their parameters under a prefix."""

    pg: PostgreSQL
    ssm: Any
    grace: float
    n: int = field(default_factory=lambda: next(_counter))
    scheme: str = SCHEME
    passwords: dict[Color, str] = field(default_factory=dict)
    color: Color = "blue"
    last_finished: float | None = None
    count: int = 0

    @property
    def prefix(self) -> str:
        return f"/db/pg{self.n}"

    @property
    def names(self) -> ParameterNames:
        return ParameterNames(self.prefix)

    @property
    def users(self) -> dict[Color, str]:
        return {"blue": f"pgapp{self.n}", "green": f"pgapp{self.n}_green"}

    def master(self) -> psycopg.Connection[Any]:
        """The master role over verified TLS, as the rotation function logs in (in plaintext only to
        a server that serves no TLS)."""
        tls = (
            {"sslmode": "verify-full", "sslrootcert": self.pg.ca_file}
            if self.pg.tls
            else {"sslmode": "disable"}
        )
        return psycopg.connect(
            host=self.pg.host,
            port=self.pg.port,
            user=MASTER_USER,
            password=self.pg.master_password,
            dbname=DATABASE,
            autocommit=True,
            **tls,
        )

    def set_password(self, color: Color, password: str) -> None:
        """``ALTER ROLE`` with a SCRAM verifier computed here, as the master."""
        user = self.users[color]
        with self.master() as conn:
            verifier = conn.pgconn.encrypt_password(password.encode(), user.encode(), b"scram-sha-256")
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(user), sql.Literal(verifier.decode())
                )
            )

    def url(self, color: Color, password: str | None = None) -> str:
        pw = self.passwords[color] if password is None else password
        return build_url(self.scheme, self.users[color], pw, self.pg.host, self.pg.port, DATABASE)

    def publish(self, color: Color) -> None:
        for role in ROLES:
            self.ssm.put_parameter(
                Name=self.names.url(color, role), Value=self.url(color), Type="SecureString", Overwrite=True
            )

    def set_flag(self, color: Color) -> None:
        self.ssm.put_parameter(Name=self.names.flag, Value=color, Type="String", Overwrite=True)
        self.color = color

    def create(self) -> PgRotations:
        """Both roles (as the master, which must be able to alter them), their URLs, flag ``blue``."""
        with self.master() as conn:
            for color in COLORS:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(self.users[color])))
        for color in COLORS:
            self.passwords[color] = new_password()
            self.set_password(color, self.passwords[color])
            self.publish(color)
        self.set_flag("blue")
        return self

    def drop(self) -> None:
        with self.master() as conn:
            for user in self.users.values():
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (user,)
                )
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(user)))

    def sessions_of(self, color: Color) -> int:
        with self.master() as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (self.users[color],)
            ).fetchone()
        assert row is not None
        return int(row[0])

    def rotate(self, *, require_no_sessions: bool = False) -> Color:
        """One rotation; returns the color the flag names afterwards."""
        if self.last_finished is not None:
            wait = self.last_finished + self.grace - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        target = other_color(self.color)
        if require_no_sessions:
            assert self.sessions_of(target) == 0, f"{target} still has sessions: the rotation would refuse"
        self.passwords[target] = new_password()
        self.set_password(target, self.passwords[target])
        self.publish(target)
        self.set_flag(target)
        self.last_finished = time.monotonic()
        self.count += 1
        return target

    def rotate_under_load(self, seen_passwords: list[str], settle: float, times: int = 3) -> list[Color]:
        """``times`` rotations back to back while the caller's load runs, then ``settle`` seconds."""
        flags = []
        for _ in range(times):
            flags.append(self.rotate())
            seen_passwords.append(self.passwords[self.color])
        time.sleep(settle)
        return flags


def start_server(tls: bool = True) -> PostgreSQL:
    """A PostgreSQL 15 server (SCRAM, TLS unless told) with the master as Aurora's and the test database."""
    server = PostgreSQL(tls=tls).start()
    server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    return server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgreSQL]:
    """The session's PostgreSQL for the consumer tests (TLS with a CA made for the run)."""
    server = start_server()
    yield server
    server.stop()
