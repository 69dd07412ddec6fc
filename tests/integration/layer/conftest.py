"""Fixtures for the consumer-side tests: real rotations through the driver, and SSM call counting.

The stack itself (MariaDB, moto's server, an adopted secret with unique names) comes from the lead's
``tests/conftest.py`` (``make_stack``). Rotations run the real handler (``app.lambda_handler``)
through ``bluegreen_ops.devstack.secrets_manager_driver.RotationDriver``: nothing is mocked.

PostgreSQL consumers (``pg_rotations``) run against a real PostgreSQL 15 and moto's Parameter Store;
their rotations are played at the database and Parameter Store level (:mod:`.pg_rotations`).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from app import lambda_handler
from bluegreen_ops.devstack.secrets_manager_driver import RotationDriver
from tests.helpers import secret_value
from tests.integration.layer.held_calls import HeldGetParameters
from tests.integration.layer.pg_rotations import PgRotations, pg_server

__all__ = ["pg_server"]  # a session fixture for the PostgreSQL consumer tests

TTL = 1.0  # consumer cache TTL in these tests
GRACE = 2  # ROTATION_GRACE_SECONDS: just above the TTL, as the contract requires


@dataclass
class Rotator:
    """Runs real rotations back to back, waiting out the grace period between them."""

    stack: Any
    grace: float
    driver: RotationDriver = field(init=False)
    last_finished: float | None = None
    count: int = 0

    def __post_init__(self) -> None:
        self.driver = RotationDriver(self.stack.secretsmanager, lambda_handler, max_attempts=1)

    def flag(self) -> str:
        value: str = self.stack.ssm.get_parameter(Name=f"{self.stack.prefix}/blue-green-env")["Parameter"][
            "Value"
        ]
        return value

    def rotate(self) -> str:
        """One rotation; returns the color the flag names afterwards."""
        if self.last_finished is not None:
            # The guard measures grace from the flag's LastModifiedDate; add a margin for its rounding.
            wait = self.last_finished + self.grace + 0.6 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self.driver.rotate(self.stack.app.secret_arn)
        self.last_finished = time.monotonic()
        self.count += 1
        return self.flag()

    def rotate_under_load(self, passwords: list[str], settle: float, times: int = 3) -> list[str]:
        """``times`` rotations back to back while the caller's load runs, then ``settle`` seconds for
        every worker to pass a refresh; each new AWSCURRENT password goes into ``passwords`` (the
        ``no_password_in_logs`` list). Returns the flag after each rotation."""
        flags = []
        for _ in range(times):
            flags.append(self.rotate())
            passwords.append(secret_value(self.stack)["password"])
        time.sleep(settle)
        return flags


@pytest.fixture
def layer_stack(make_stack: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    # The session's MariaDB serves no TLS: consumers must say so (their default is verify-full).
    monkeypatch.setenv("BLUEGREEN_DB_TLS_MODE", "disable")
    return make_stack(grace=GRACE)


@pytest.fixture
def rotator(layer_stack: Any) -> Rotator:
    return Rotator(layer_stack, GRACE)


def _count_calls(client: Any) -> collections.Counter[str]:
    """Counts the client's API calls by operation, with a botocore event hook (no mock).

    ``before-call`` fires once per API call (botocore's retries happen below it).
    """
    calls: collections.Counter[str] = collections.Counter()

    def _hook(event_name: str, **_: Any) -> None:
        calls[event_name.rsplit(".", 1)[-1]] += 1

    client.meta.events.register("before-call.ssm.*", _hook)
    return calls


@pytest.fixture
def count_ssm_calls() -> Any:
    return _count_calls


@pytest.fixture
def ttl() -> float:
    return TTL


@pytest.fixture
def no_password_in_logs(caplog: pytest.LogCaptureFixture, layer_stack: Any) -> Iterator[list[str]]:
    """Collects the passwords a test sees; after the test, no log record may contain one."""
    caplog.set_level("DEBUG", logger="bluegreen_db")
    passwords: list[str] = []
    yield passwords
    text = "\n".join(r.getMessage() for r in caplog.records)
    for password in passwords:
        assert password not in text


@pytest.fixture
def hold_get_parameters(moto_server: Any) -> Any:
    """``hold_get_parameters(client)``: a :class:`HeldGetParameters` on that client's calls."""
    return HeldGetParameters


@pytest.fixture
def pg_rotations(pg_server: Any, moto_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[PgRotations]:
    """Blue and green roles on the session's PostgreSQL, their URLs and flag under a unique prefix;
    consumers verify the server's certificate against the server's CA (``verify-full``)."""
    import boto3

    monkeypatch.setenv("BLUEGREEN_DB_TLS_MODE", "verify-full")
    monkeypatch.setenv("BLUEGREEN_DB_TLS_CA_FILE", str(pg_server.ca_file))
    rotations = PgRotations(pg_server, boto3.client("ssm"), grace=GRACE).create()
    monkeypatch.setenv("PARAMETER_PREFIX", rotations.prefix)
    yield rotations
    rotations.drop()


@pytest.fixture
def no_password_in_pg_logs(caplog: pytest.LogCaptureFixture, pg_server: Any) -> Iterator[list[str]]:
    """As ``no_password_in_logs``, and the server's ``log_statement=all`` log holds none either."""
    caplog.set_level("DEBUG", logger="bluegreen_db")
    passwords: list[str] = []
    yield passwords
    text = "\n".join(r.getMessage() for r in caplog.records)
    server_log = pg_server.log_text()
    for password in passwords:
        assert password not in text
        assert password not in server_log


@dataclass
class Rig:
    """One engine's stack for the test bodies that are the same for every engine: its prefix, its two
    users, rotations (``rotate``, ``rotate_under_load``, ``last_finished``), SQL naming the user."""

    engine: str
    prefix: str
    ssm: Any
    users: dict[str, str]
    who_sql: str
    rotations: Any
    flag: Any  # () -> the color the flag names
    passwords: list[str] = field(default_factory=list)  # none may appear in a log record

    def who(self, conn: Any) -> str:
        """The user a DB-API connection (PyMySQL or psycopg) is logged in as."""
        with conn.cursor() as cur:
            cur.execute(self.who_sql)
            row = cur.fetchone()
        return str(row[0])


@pytest.fixture(params=["mysql", "postgresql"])
def rig(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> Iterator[Rig]:
    """The same test body against MariaDB (real rotations through the handler, the first one adopting
    the secret) and PostgreSQL 15 (rotations played, :mod:`.pg_rotations`)."""
    caplog.set_level("DEBUG", logger="bluegreen_db")
    if request.param == "mysql":
        stack = request.getfixturevalue("layer_stack")
        rotator = request.getfixturevalue("rotator")
        rotator.rotate()  # adoption: the first rotation creates green and the mirror
        user = stack.app.username
        rig = Rig(
            "mysql",
            stack.prefix,
            stack.ssm,
            {"blue": user, "green": f"{user}_green"},
            "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)",
            rotator,
            rotator.flag,
        )
    else:
        rot = request.getfixturevalue("pg_rotations")
        rig = Rig("postgresql", rot.prefix, rot.ssm, rot.users, "SELECT current_user", rot, lambda: rot.color)
    yield rig
    text = "\n".join(r.getMessage() for r in caplog.records)
    for password in rig.passwords:
        assert password not in text
