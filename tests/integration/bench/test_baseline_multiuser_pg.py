"""The PostgreSQL baseline of the rotation benchmark runs on the devstack PostgreSQL and the moto server.

Two rotations: the first creates ``<user>_clone`` as a member of the user (the reference's only copy
of the profile), the second gives the original user a new password; each AWSCURRENT logs in. The
cleartext password reaching the server's log is the reference's documented behaviour, checked so the
benchmark measures that algorithm and not a better one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import psycopg
import pytest
from psycopg import sql

from bench import baseline_multiuser_pg
from bluegreen_ops.devstack.moto_server import MotoServer
from bluegreen_ops.devstack.postgresql import MASTER_USER, PostgreSQL
from bluegreen_ops.devstack.secrets_manager_driver import RotationDriver

USER = "base"
INITIAL = "base-initial-Passw0rd"  # nosec B105 - a throwaway local role


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgreSQL]:
    server = PostgreSQL().start()
    yield server
    server.stop()


def current(sm: Any, arn: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(
        sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"]
    )
    return value


def logs_in(pg: PostgreSQL, secret: dict[str, Any]) -> str:
    with psycopg.connect(
        host=pg.host,
        port=pg.port,
        user=secret["username"],
        password=secret["password"],
        dbname="postgres",
        sslmode="verify-full",
        sslrootcert=pg.ca_file,
    ) as conn:
        row = conn.execute("SELECT session_user").fetchone()
        assert row is not None
        return str(row[0])


def test_the_baseline_rotates_twice_the_way_the_reference_does(
    pg: PostgreSQL, moto_server: MotoServer
) -> None:
    with pg.connection() as conn:
        verifier = conn.pgconn.encrypt_password(INITIAL.encode(), USER.encode(), b"scram-sha-256").decode()
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(USER), sql.Literal(verifier))
        )
    sm = boto3.client("secretsmanager")
    master = sm.create_secret(
        Name="bench-pg/base/master",
        SecretString=json.dumps({"username": MASTER_USER, "password": pg.master_password}),
    )
    arn = sm.create_secret(
        Name="bench-pg/base",
        SecretString=json.dumps(
            {
                "engine": "postgres",
                "host": pg.host,
                "port": pg.port,
                "username": USER,
                "password": INITIAL,
                "dbname": "postgres",
                "masterarn": master["ARN"],
            }
        ),
    )["ARN"]
    driver = RotationDriver(
        sm, baseline_multiuser_pg.make_handler(baseline_multiuser_pg.client()), max_attempts=1
    )

    driver.rotate(arn)
    first = current(sm, arn)
    assert first["username"] == f"{USER}_clone"
    assert logs_in(pg, first) == f"{USER}_clone"
    member = pg.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", (f"{USER}_clone", USER))
    assert member == [(True,)]
    assert first["password"] in pg.log_text(), "the reference sends the cleartext in CREATE ROLE"

    driver.rotate(arn)
    second = current(sm, arn)
    assert second["username"] == USER and second["password"] != INITIAL
    assert logs_in(pg, second) == USER
    assert logs_in(pg, first) == f"{USER}_clone"  # AWSPREVIOUS still logs in
