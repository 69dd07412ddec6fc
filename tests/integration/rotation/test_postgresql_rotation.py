"""What only a PostgreSQL rotation has to prove, on the session's PostgreSQL 15 through the handler:

- three rotations under a querying load fail no query: a thread reads the flag and its color's URLs
  (one GetParameters) and queries with them through psycopg, as a consumer does, all along;
- with ``log_statement=all`` no password of any secret version (nor the master's) reaches the
  server's log, and every stored password is a SCRAM-SHA-256 verifier;
- a table the current role owns refuses setSecret, naming it and the migration, before anything changes;
- a secret whose ``engine`` is ``postgres`` (RDS's value; the seeded ones say ``aurora-postgresql``)
  rotates the same way, its URLs in psycopg's scheme.

The MySQL counterparts are the layer's rotate-under-load tests and the TLS/general-log tests; the
bodies here read PostgreSQL's own log file and catalogs, so they are PostgreSQL's alone.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
import psycopg
import pytest

from app import lambda_handler
from bluegreen_ops.devstack.secrets_manager_driver import RotationDriver, RotationFailedError
from tests.helpers import flag, parameters, pg_connect, secret_value, url_logs_in_as

pytestmark = pytest.mark.parametrize("engine_stack", ["postgresql"], indirect=True)

GRACE = 1  # ROTATION_GRACE_SECONDS: a consumer that read the old flag is done with it well within


@dataclass
class QueryLoad:
    """Queries with the flag's color's writer and reader URLs, over and over, until stopped.

    Each round reads the flag and the URLs in one GetParameters, then opens a psycopg connection per
    URL and runs a query on the app's table. A round before the first flag exists is not counted.
    """

    prefix: str
    queries: int = 0
    failures: list[str] = field(default_factory=list)
    users: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> QueryLoad:
        self._thread = threading.Thread(target=self._run, name="query-load", daemon=True)
        self._thread.start()
        return self

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=30)

    def _run(self) -> None:
        ssm = boto3.client("ssm")  # its own client: boto3 clients are not shared across threads here
        names = [f"{self.prefix}/blue-green-env"] + [
            f"{self.prefix}/{c}/{r}-db-url" for c in ("blue", "green") for r in ("writer", "reader")
        ]
        while not self._stop.is_set():
            try:
                response = ssm.get_parameters(Names=names, WithDecryption=True)
            except Exception as exc:  # recorded, and the test fails on any recorded failure
                self.failures.append(f"GetParameters: {type(exc).__name__}")
                return
            values = {p["Name"]: p["Value"] for p in response["Parameters"]}
            color = values.get(names[0])
            if color is not None:
                for role in ("writer", "reader"):
                    self._query(values.get(f"{self.prefix}/{color}/{role}-db-url"), f"{color}/{role}")
            time.sleep(0.01)  # pacing the load, not ordering anything

    def _query(self, url: str | None, what: str) -> None:
        if url is None:
            self.failures.append(
                f"the flag names {what.split('/', maxsplit=1)[0]} but its {what} URL is missing"
            )
            return
        try:
            with pg_connect(url) as conn:
                row = conn.execute("SELECT session_user, count(*) FROM items").fetchone()
        except psycopg.Error as exc:  # the message names the user, never the password
            self.failures.append(f"{what}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            return
        if row is None:
            self.failures.append(f"{what}: the query returned no row")
            return
        self.users.add(str(row[0]))
        self.queries += 1


def _rotate(stack: Any, times: int) -> list[str]:
    """``times`` rotations, each after the grace period of the previous flip; the flag after each."""
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    flags = []
    for n in range(times):
        if n:
            time.sleep(GRACE + 0.6)  # the guard measures the grace from the flag's LastModifiedDate
        driver.rotate(stack.app.secret_arn)
        flags.append(flag(stack))
    return flags


def test_three_rotations_under_a_query_load_fail_no_query(make_stack: Any) -> None:
    stack = make_stack(grace=GRACE)
    blue = stack.app.username
    with QueryLoad(stack.prefix) as load:
        flags = _rotate(stack, 3)
        seen = load.queries
        while load.queries < seen + 10 and load.running():  # the end state serves the load too
            time.sleep(0.01)
        ran_to_the_end = load.running()
    assert load.failures == []
    assert ran_to_the_end, "the load thread stopped early"
    assert flags == ["green", "blue", "green"]
    assert load.users == {blue, f"{blue}_green"}
    assert load.queries > 10


def test_no_password_reaches_the_server_log(make_stack: Any) -> None:
    stack = make_stack()
    master = json.loads(stack.secretsmanager.get_secret_value(SecretId=stack.app.master_arn)["SecretString"])
    passwords = {secret_value(stack)["password"], master["password"]}
    flags = []
    for _ in range(3):
        flags.append(_rotate(stack, 1)[0])
        passwords.add(secret_value(stack)["password"])
    assert flags == ["green", "blue", "green"]
    assert len(passwords) == 5  # the adopted password, three new ones, the master's
    log = stack.db.log_text()
    blue, green = stack.app.username, f"{stack.app.username}_green"
    assert f'ALTER ROLE "{green}" PASSWORD' in log, "log_statement=all records the password changes"
    leaked = [n for n, p in enumerate(sorted(passwords)) if p in log]
    assert leaked == [], "a password of the secret reached the PostgreSQL server log"
    verifiers = stack.db.execute(
        "SELECT rolname, rolpassword FROM pg_authid WHERE rolname IN (%s, %s)", (blue, green)
    )
    assert len(verifiers) == 2
    assert all(v.startswith("SCRAM-SHA-256$") for _, v in verifiers)


def test_a_postgres_engine_secret_rotates_with_psycopg_urls(make_stack: Any) -> None:
    stack = make_stack(engine="postgres")
    assert secret_value(stack)["engine"] == "postgres"
    _rotate(stack, 1)
    current = secret_value(stack)
    assert current["engine"] == "postgres" and current["port"] == stack.db.port
    for color, user in (("blue", stack.app.username), ("green", current["username"])):
        url = parameters(stack)[f"{stack.prefix}/{color}/writer-db-url"][0]
        assert url.startswith("postgresql+psycopg://")
        assert url.endswith(f"@127.0.0.1:{stack.db.port}/{stack.app.dbname}")
        assert url_logs_in_as(stack, url, user)


def test_a_table_owned_by_the_current_role_refuses_set_secret_naming_it(make_stack: Any) -> None:
    """Two roles cannot own one table: setSecret refuses before the partner exists or any password
    changes, naming the table and the one-time migration that fixes it."""
    stack = make_stack()
    user, dbname = stack.app.username, stack.app.dbname
    stack.db.execute(f"CREATE TABLE public.owned_{stack.n} (x int)", dbname=dbname)
    stack.db.execute(f'ALTER TABLE public.owned_{stack.n} OWNER TO "{user}"', dbname=dbname)
    current_before = secret_value(stack, "AWSCURRENT")
    password_before = stack.db.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (user,))
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    with pytest.raises(RotationFailedError) as failed:
        driver.rotate(stack.app.secret_arn)
    message = str(failed.value)
    assert f"owned_{stack.n}" in message and "REASSIGN OWNED BY" in message, message
    assert "bluegreen adopt --shared-owner" in message, message
    assert stack.db.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (f"{user}_green",)) == []
    assert (
        stack.db.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (user,)) == password_before
    )
    owner = stack.db.execute(
        "SELECT tableowner FROM pg_tables WHERE tablename = %s", (f"owned_{stack.n}",), dbname=dbname
    )
    assert owner == [(user,)]
    assert secret_value(stack, "AWSCURRENT") == current_before
