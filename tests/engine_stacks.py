"""What the shared integration test bodies ask of the database, once per engine.

A test body says what it checks (the partner has the same grants, the previous user still logs in,
nothing changed); a probe answers it on its server, for real: :class:`MariaDBProbe` with pymysql
and the ``mysql`` schema, :class:`PostgreSQLProbe` with psycopg and the catalogs. Neither uses the
rotation's own engine code, so a test never checks the engine with itself.

``tests/conftest.py``'s ``engine_stack`` fixture gives a test the server and its probe; a module whose
bodies hold for both engines marks itself with :data:`BOTH_ENGINES`.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from collections.abc import Iterator
from typing import Any

import psycopg
import pymysql
import pytest
from psycopg import sql

from bluegreen_db.dburl import parse_url
from bluegreen_ops.devstack.mariadb import MariaDB
from bluegreen_ops.devstack.postgresql import MASTER_USER, PostgreSQL

STACK_NUMBERS = itertools.count(1)
"""Numbers for per-test names (``app7``, ``db7``): one sequence for every suite sharing a server, so
the rotation stacks and the PostgreSQL engine's pairs never pick the same role or database name."""

ENGINES = ("mariadb", "postgresql")
BOTH_ENGINES = pytest.mark.parametrize("engine_stack", ENGINES, indirect=True)
"""``pytestmark = BOTH_ENGINES``: every test of the module runs on MariaDB and on PostgreSQL."""


class MariaDBProbe:
    """MariaDB as the MySQL engine's tests always checked it."""

    name = "mariadb"
    url_scheme = "mysql+pymysql"
    max_user_name = 32
    master_user = "admin"

    def __init__(self, db: MariaDB) -> None:
        self.db = db

    def can_login(self, user: str, password: str) -> bool:
        try:
            pymysql.connect(host="127.0.0.1", port=self.db.port, user=user, password=password).close()
        except pymysql.err.OperationalError as exc:
            if exc.args[0] == 1045:
                return False
            raise
        return True

    def login_as(self, url: str) -> str:
        """Logs in with a URL's credentials as the shared codec parses them; CURRENT_USER()'s user."""
        from tests.helpers import login_as  # tests.helpers imports this module

        return login_as(url)

    def grants(self, user: str, dbname: str) -> list[str]:
        host = self.db.execute("SELECT Host FROM mysql.user WHERE User = %s", (user,))[0][0]
        rows = self.db.execute("SHOW GRANTS FOR %s@%s", (user, host))
        out = []
        for (line,) in rows:
            line = line.replace(f"`{user}`@", "`USER`@").split(" IDENTIFIED BY PASSWORD")[0]
            out.append(line)
        return sorted(out)

    def accounts(self, users: tuple[str, ...]) -> list[tuple[Any, ...]]:
        """Each existing user's identity, password hash and TLS requirement."""
        marks = ", ".join(["%s"] * len(users))
        return self.db.execute(
            "SELECT User, Host, authentication_string, ssl_type FROM mysql.user"
            f" WHERE User IN ({marks}) ORDER BY User, Host",
            users,
        )

    def assert_same_scope(self, blue: str, green: str) -> None:
        """Both users accept clients from the same hosts (the partner took the source's host part)."""
        hosts = self.db.execute("SELECT User, Host FROM mysql.user WHERE User IN (%s, %s)", (blue, green))
        assert {h for _, h in hosts} == {"%"}

    def set_password(self, user: str, password: str) -> None:
        self.db.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (user, password))

    def session(self, user: str, password: str) -> Any:
        """A live client session (close it to end it)."""
        return pymysql.connect(host="127.0.0.1", port=self.db.port, user=user, password=password)

    def session_count(self, user: str) -> int:
        rows = self.db.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s", (user,))
        return int(rows[0][0])

    @contextlib.contextmanager
    def rotation_lock_held(self, secret_arn: str, dbname: str) -> Iterator[None]:
        """Another session holds the secret's rotation lock (the named lock setSecret takes; named
        locks are server-wide, so ``dbname`` does not matter)."""
        holder = self.db.root()
        name = "bluegreen:" + hashlib.sha256(secret_arn.encode()).hexdigest()[:40]
        with holder.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 0)", (name,))
        try:
            yield
        finally:
            holder.close()


class PostgreSQLProbe:
    """PostgreSQL 15 read through the catalogs as the bootstrap superuser; clients log in over TCP."""

    name = "postgresql"
    url_scheme = "postgresql+psycopg"
    max_user_name = 63
    master_user = MASTER_USER

    def __init__(self, db: PostgreSQL) -> None:
        self.db = db

    def _connect(self, user: str, password: str, dbname: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.db.port,
            user=user,
            password=password,
            dbname=dbname,
            sslmode="disable",
            connect_timeout=5,
            autocommit=True,
        )

    def can_login(self, user: str, password: str) -> bool:
        try:
            self._connect(user, password).close()
        except psycopg.OperationalError as exc:
            if "password authentication failed" in str(exc):
                return False
            raise
        return True

    def login_as(self, url: str) -> str:
        """Logs in with a URL's credentials as the shared codec parses them; the session's role."""
        parsed = parse_url(url)
        assert parsed.host == "127.0.0.1" and parsed.port == self.db.port
        with self._connect(parsed.username, parsed.password, parsed.database or "postgres") as conn:
            row = conn.execute("SELECT session_user").fetchone()
        return str(row[0]) if row else ""

    def grants(self, user: str, dbname: str) -> list[str]:
        """Attributes, memberships, settings and privileges at every level seeded (none names the
        role itself, so two roles' lists compare equal)."""
        out: list[str] = []
        (attributes,) = self.db.execute(
            "SELECT rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,"
            " rolbypassrls, rolconnlimit, rolvaliduntil FROM pg_roles WHERE rolname = %s",
            (user,),
        )
        out.append(f"attributes {attributes}")
        for role, admin in self.db.execute(
            "SELECT r.rolname, m.admin_option FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
            " WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = %s)",
            (user,),
        ):
            out.append(f"member of {role} admin={admin}")
        for database, config in self.db.execute(
            "SELECT coalesce(d.datname, '*'), s.setconfig FROM pg_db_role_setting s"
            " LEFT JOIN pg_database d ON d.oid = s.setdatabase"
            " WHERE s.setrole = (SELECT oid FROM pg_roles WHERE rolname = %s)",
            (user,),
        ):
            out.append(f"settings in {database}: {sorted(config)}")
        acl = (
            "FROM {src}, aclexplode({acl}) a WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = %s)"
        )
        queries = {
            "database": "SELECT datname, a.privilege_type, a.is_grantable "
            + acl.format(src="pg_database", acl="datacl"),
            "schema": "SELECT nspname, a.privilege_type, a.is_grantable "
            + acl.format(src="pg_namespace", acl="nspacl"),
            "relation": "SELECT relname, a.privilege_type, a.is_grantable "
            + acl.format(src="pg_class", acl="relacl"),
            "column": "SELECT c.relname || '.' || t.attname, a.privilege_type, a.is_grantable "
            + acl.format(src="pg_attribute t JOIN pg_class c ON c.oid = t.attrelid", acl="t.attacl"),
        }
        for kind, query in queries.items():
            for obj, privilege, grantable in self.db.execute(query, (user,), dbname=dbname):
                out.append(f"{kind} {obj}: {privilege} grantable={grantable}")
        return sorted(out)

    def accounts(self, users: tuple[str, ...]) -> list[tuple[Any, ...]]:
        """Each existing role's name, password verifier and login attributes."""
        return self.db.execute(
            "SELECT rolname, rolpassword, rolcanlogin, rolvaliduntil FROM pg_authid"
            " WHERE rolname = ANY(%s) ORDER BY rolname",
            (list(users),),
        )

    def assert_same_scope(self, blue: str, green: str) -> None:
        """Both roles log in, and neither is a member of the other (no shared identity)."""
        rows = self.db.execute(
            "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname IN (%s, %s)", (blue, green)
        )
        assert sorted(rows) == [(blue, True), (green, True)]
        crossed = self.db.execute(
            "SELECT pg_has_role(%s, %s, 'MEMBER'), pg_has_role(%s, %s, 'MEMBER')", (blue, green, green, blue)
        )
        assert crossed == [(False, False)]

    def set_password(self, user: str, password: str) -> None:
        """As a verifier computed here, so the server log never holds the password."""
        with self.db.connection() as conn:
            verifier = conn.pgconn.encrypt_password(password.encode(), user.encode(), b"scram-sha-256")
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(user), sql.Literal(verifier.decode())
                )
            )

    def session(self, user: str, password: str) -> Any:
        return self._connect(user, password)

    def session_count(self, user: str) -> int:
        rows = self.db.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (user,))
        return int(rows[0][0])

    @contextlib.contextmanager
    def rotation_lock_held(self, secret_arn: str, dbname: str) -> Iterator[None]:
        """Another session holds the secret's rotation lock: the advisory lock setSecret takes, in
        the secret's database (advisory locks are per database)."""
        digest = hashlib.sha256(b"bluegreen:" + secret_arn.encode()).digest()[:8]
        holder = self.db.superuser(dbname)
        holder.execute("SELECT pg_advisory_lock(%s)", (int.from_bytes(digest, "big", signed=True),))
        try:
            yield
        finally:
            holder.close()


Probe = MariaDBProbe | PostgreSQLProbe


def probe_for(db: MariaDB | PostgreSQL) -> Probe:
    return MariaDBProbe(db) if isinstance(db, MariaDB) else PostgreSQLProbe(db)
