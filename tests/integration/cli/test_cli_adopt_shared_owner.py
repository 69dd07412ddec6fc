"""`bluegreen adopt --shared-owner` against a real PostgreSQL 15 and the moto server.

The app role owns its database and a table, as most apps do: ``unreproducible`` refuses it and
``bluegreen status`` shows that as ``blocked``, naming the command. After the migration the refusal is
gone, the app still reads and writes its table, and what it creates belongs to the shared owner.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import psycopg
import pytest
from psycopg import sql

from bluegreen_ops.devstack.moto_server import MotoServer
from bluegreen_ops.devstack.postgresql import MASTER_USER, PostgreSQL
from bluegreen_rotation.engines.base import Endpoint
from bluegreen_rotation.engines.postgresql import ENGINE
from tests.helpers import parameters

from .conftest import Cli

_counter = itertools.count(1)
APP_PASSWORD = "pg-app-Passw0rd-initial"  # nosec B105 - a throwaway local role


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgreSQL]:
    server = PostgreSQL().start()
    yield server
    server.stop()


@dataclass
class PgDatabase:
    """The shape of ``tests.conftest.AppDatabase`` the CLI fixture reads."""

    secret_arn: str
    master_arn: str
    username: str
    dbname: str


@dataclass
class PgServer:
    """What the CLI fixture's leak check reads of a database server."""

    admin_password: str


@dataclass
class PgStack:
    """An adopted single-user PostgreSQL secret: its role owns its database and one table."""

    pg: PostgreSQL
    db: PgServer
    secretsmanager: Any
    ssm: Any
    app: PgDatabase
    prefix: str
    n: int

    @property
    def owner(self) -> str:
        return f"{self.app.username}_owner"

    @contextlib.contextmanager
    def as_app(self) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(
            host=self.pg.host,
            port=self.pg.port,
            user=self.app.username,
            password=APP_PASSWORD,
            dbname=self.app.dbname,
            sslmode="verify-full",
            sslrootcert=self.pg.ca_file,
            autocommit=True,
        ) as conn:
            yield conn

    def sql(self, statement: str, args: Any = None) -> list[tuple[Any, ...]]:
        return self.pg.execute(statement, args, dbname=self.app.dbname)

    def unreproducible(self) -> list[str]:
        endpoint = Endpoint(self.pg.host, self.pg.port, "verify-full", self.pg.ca_file, 5.0)
        with ENGINE.admin(endpoint, MASTER_USER, self.pg.master_password, self.app.dbname) as admin:
            state = admin.account_states(self.app.username)[self.app.username]
            assert state is not None
            return admin.unreproducible(state)


@pytest.fixture
def pg_stack(pg: PostgreSQL, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> PgStack:
    n = next(_counter)
    user, dbname, prefix = f"pgapp{n}", f"pgdb{n}", f"/db/pg{n}"
    monkeypatch.setenv("PARAMETER_PREFIX", prefix)
    monkeypatch.setenv("DB_TLS_MODE", "verify-full")
    monkeypatch.setenv("DB_TLS_CA_FILE", str(pg.ca_file))
    monkeypatch.setenv("ROTATION_GRACE_SECONDS", "0")
    with pg.connection() as conn:
        verifier = conn.pgconn.encrypt_password(APP_PASSWORD.encode(), user.encode(), b"scram-sha-256")
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(user), sql.Literal(verifier.decode())
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), sql.Identifier(user))
        )
    sm = boto3.client("secretsmanager")
    master = sm.create_secret(
        Name=f"pg/t{n}/master",
        SecretString=json.dumps({"username": MASTER_USER, "password": pg.master_password}),
    )
    secret = sm.create_secret(
        Name=f"pg/t{n}",
        SecretString=json.dumps(
            {
                "engine": "aurora-postgresql",
                "host": pg.host,
                "port": pg.port,
                "username": user,
                "password": APP_PASSWORD,
                "dbname": dbname,
                "masterarn": master["ARN"],
            }
        ),
    )
    stack = PgStack(
        pg,
        PgServer(pg.master_password),
        sm,
        boto3.client("ssm"),
        PgDatabase(secret["ARN"], master["ARN"], user, dbname),
        prefix,
        n,
    )
    with stack.as_app() as conn:
        conn.execute("CREATE TABLE items (id serial PRIMARY KEY, v text NOT NULL)")
        conn.execute("INSERT INTO items (v) VALUES ('before')")
    return stack


def table_owner(stack: PgStack, table: str) -> str:
    rows = stack.sql(
        "SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = %s", (table,)
    )
    return str(rows[0][0])


def test_status_shows_owned_objects_as_blocked_naming_the_adopt_command(pg_stack: PgStack) -> None:
    document = Cli(pg_stack).json("status", expect=3)
    blocked = [p for p in document["problems"] if p["severity"] == "blocked"]
    assert blocked, document["problems"]
    assert any("table items" in p["message"] for p in blocked), blocked
    assert any(f"`bluegreen adopt --shared-owner {pg_stack.owner}`" in p["fix"] for p in blocked), blocked


def test_rotate_now_refuses_before_starting_naming_the_adopt_command(pg_stack: PgStack) -> None:
    cli = Cli(pg_stack)
    cli("adopt")
    versions_before = pg_stack.secretsmanager.list_secret_version_ids(SecretId=pg_stack.app.secret_arn)
    document = cli.json("rotate-now", "--local", expect=4)
    message = document["error"]["message"]
    assert "setSecret would refuse this rotation" in message and "table items" in message
    assert f"`bluegreen adopt --shared-owner {pg_stack.owner}`" in message
    assert document["error"]["staged"] is None
    versions_after = pg_stack.secretsmanager.list_secret_version_ids(SecretId=pg_stack.app.secret_arn)
    assert [v["VersionId"] for v in versions_after["Versions"]] == [
        v["VersionId"] for v in versions_before["Versions"]
    ]


def test_dry_run_lists_every_statement_and_changes_nothing(pg_stack: PgStack) -> None:
    user, owner, db = pg_stack.app.username, pg_stack.owner, pg_stack.app.dbname
    document = Cli(pg_stack).json("adopt", "--shared-owner", owner, "--dry-run")
    assert document["dryRun"] is True and document["changed"] is False
    statements = document["sharedOwner"]["statements"]
    assert statements == [
        f'CREATE ROLE "{owner}" NOLOGIN',
        f'GRANT "{user}" TO CURRENT_USER',
        f'GRANT "{owner}" TO CURRENT_USER',
        f'REASSIGN OWNED BY "{user}" TO "{owner}"',
        f'REVOKE "{user}" FROM CURRENT_USER',
        f'REVOKE "{owner}" FROM CURRENT_USER',
        f'GRANT "{owner}" TO "{user}"',
        f"ALTER ROLE \"{user}\" SET role = '{owner}'",
    ]
    assert document["changes"][: len(statements)] == [f"{db}: {s}" for s in statements]
    assert pg_stack.pg.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (owner,)) == []
    assert table_owner(pg_stack, "items") == user
    assert parameters(pg_stack) == {}


def test_the_migration_unblocks_the_rotation_and_the_app_keeps_working(pg_stack: PgStack) -> None:
    user, owner = pg_stack.app.username, pg_stack.owner
    assert pg_stack.unreproducible()
    cli = Cli(pg_stack)

    first = cli.json("adopt", "--shared-owner", owner)
    assert first["changed"] is True
    assert f'REASSIGN OWNED BY "{user}" TO "{owner}"' in first["sharedOwner"]["statements"]
    assert pg_stack.pg.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (owner,)) == [(False,)]
    assert not pg_stack.pg.execute(
        "SELECT 1 FROM pg_roles r WHERE r.rolname = %s AND pg_has_role(r.oid, %s, 'MEMBER')",
        (MASTER_USER, user),
    ), "the master's borrowed membership is revoked"

    again = cli.json("adopt", "--shared-owner", owner)
    assert again["sharedOwner"]["statements"] == [] and again["changed"] is False

    assert pg_stack.unreproducible() == []
    with pg_stack.as_app() as conn:
        assert conn.execute("SELECT current_user").fetchone() == (owner,)
        conn.execute("INSERT INTO items (v) VALUES ('after')")
        rows = conn.execute("SELECT v FROM items ORDER BY id").fetchall()
        assert rows == [("before",), ("after",)]
        conn.execute("CREATE TABLE created_after (x int)")
    assert table_owner(pg_stack, "items") == owner
    assert table_owner(pg_stack, "created_after") == owner

    status = cli.json("status")
    assert status["consistent"] is True, status["problems"]


def test_after_the_migration_rotations_give_the_partner_the_owners_membership_and_setting(
    pg_stack: PgStack,
) -> None:
    cli = Cli(pg_stack)
    cli.json("adopt", "--shared-owner", pg_stack.owner)
    for expected_color in ("green", "blue"):
        assert cli.json("rotate-now", "--local")["color"] == expected_color
        value = json.loads(
            pg_stack.secretsmanager.get_secret_value(
                SecretId=pg_stack.app.secret_arn, VersionStage="AWSCURRENT"
            )["SecretString"]
        )
        with psycopg.connect(
            host=pg_stack.pg.host,
            port=pg_stack.pg.port,
            user=value["username"],
            password=value["password"],
            dbname=pg_stack.app.dbname,
            sslmode="verify-full",
            sslrootcert=pg_stack.pg.ca_file,
            autocommit=True,
        ) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (pg_stack.owner,)
            conn.execute("INSERT INTO items (v) VALUES (%s)", (value["username"],))
            table = f"made_by_{expected_color}"
            conn.execute(sql.SQL("CREATE TABLE {} (x int)").format(sql.Identifier(table)))
        assert table_owner(pg_stack, table) == pg_stack.owner
    assert cli.json("status")["consistent"] is True


def test_the_partner_that_exists_becomes_a_member_too(pg_stack: PgStack) -> None:
    partner = f"{pg_stack.app.username}_green"
    pg_stack.pg.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(partner)))
    statements = Cli(pg_stack).json("adopt", "--shared-owner", pg_stack.owner)["sharedOwner"]["statements"]
    assert f'GRANT "{pg_stack.owner}" TO "{pg_stack.app.username}", "{partner}"' in statements
    with psycopg.connect(
        host=str(pg_stack.pg.socket_dir), port=pg_stack.pg.port, user="postgres", dbname=pg_stack.app.dbname
    ) as conn:
        assert conn.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", (partner, pg_stack.owner)).fetchone() == (
            True,
        )


@pytest.mark.parametrize("owner", ["pgapp_owner_x", "pg_reserved"])
def test_an_owner_that_is_a_color_or_reserved_is_refused(pg_stack: PgStack, owner: str) -> None:
    name = pg_stack.app.username if owner == "pgapp_owner_x" else owner
    document = Cli(pg_stack).json("adopt", "--shared-owner", name, expect=2)
    assert document["error"]["code"] == "usage"
    assert "nothing was changed" in document["error"]["message"]
    assert table_owner(pg_stack, "items") == pg_stack.app.username


def test_an_owner_that_can_log_in_is_refused(pg_stack: PgStack) -> None:
    owner = f"{pg_stack.owner}_login"
    pg_stack.pg.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(owner)))
    document = Cli(pg_stack).json("adopt", "--shared-owner", owner, expect=4)
    assert "NOLOGIN" in document["error"]["message"]
    assert table_owner(pg_stack, "items") == pg_stack.app.username


def test_an_owner_that_is_already_in_the_user_is_refused(pg_stack: PgStack) -> None:
    owner, middle = f"{pg_stack.owner}_in", f"{pg_stack.owner}_middle"
    pg_stack.pg.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(owner)))
    pg_stack.pg.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(middle)))
    pg_stack.pg.execute(
        sql.SQL("GRANT {} TO {}").format(sql.Identifier(pg_stack.app.username), sql.Identifier(middle))
    )
    pg_stack.pg.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(middle), sql.Identifier(owner)))
    document = Cli(pg_stack).json("adopt", "--shared-owner", owner, expect=4)
    assert "circular" in document["error"]["message"]
    assert table_owner(pg_stack, "items") == pg_stack.app.username


def test_a_mysql_secret_is_refused_with_a_clear_message(cli: Cli, stack: Any) -> None:
    document = cli.json("adopt", "--shared-owner", "app_owner", expect=4)
    assert "--shared-owner is for PostgreSQL secrets" in document["error"]["message"]
    assert "nothing was changed" in document["error"]["message"]
    assert parameters(stack) == {}
