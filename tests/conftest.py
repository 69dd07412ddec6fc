"""Session-wide real stack: one MariaDB, one PostgreSQL (started on first use) and one moto server;
each test gets its own names.

``make_stack`` seeds on the server ``engine_stack`` gives: MariaDB unless a module parametrises it
(``pytestmark = tests.engine_stacks.BOTH_ENGINES``), so every other test keeps its MariaDB stack.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from bluegreen_ops.devstack.mariadb import MariaDB
from bluegreen_ops.devstack.moto_server import MotoServer, aws_environment
from bluegreen_ops.devstack.postgresql import PG_BIN, PostgreSQL
from bluegreen_ops.devstack.seeding import AppDatabase, seed_application
from tests.availability import skip_unless_available
from tests.engine_stacks import ENGINES, STACK_NUMBERS, Probe, probe_for


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer().start()
    saved = dict(os.environ)
    os.environ.update(aws_environment(server.endpoint))
    from bluegreen_rotation.aws import reset_clients

    reset_clients()
    yield server
    server.stop()
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDB]:
    db = MariaDB().start()
    yield db
    db.stop()


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[PostgreSQL]:
    """The session's one PostgreSQL 15 (TLS, SCRAM, ``log_statement=all`` to its log file)."""
    if not (PG_BIN / "postgres").exists():
        skip_unless_available(
            f"{PG_BIN}/postgres is missing: install Debian's postgresql-15 (make postgresql)"
        )
    server = PostgreSQL().start()
    yield server
    server.stop()


@pytest.fixture
def engine_stack(request: pytest.FixtureRequest) -> Probe:
    """The server a stack is seeded on, and the probe the test bodies check it with.

    ``request.param`` (``indirect`` parametrisation) names the engine; MariaDB when not parametrised.
    Each server is the session's, started the first time a test asks for it.
    """
    name = getattr(request, "param", "mariadb")
    assert name in ENGINES, name
    return probe_for(request.getfixturevalue("mariadb" if name == "mariadb" else "postgresql_server"))


@dataclass
class Stack:
    db: MariaDB | PostgreSQL
    moto: MotoServer
    secretsmanager: Any
    ssm: Any
    app: AppDatabase
    prefix: str
    n: int
    probe: Probe

    @property
    def engine(self) -> str:
        """``mariadb`` or ``postgresql``: the server the stack is seeded on."""
        return self.probe.name


@pytest.fixture
def make_stack(engine_stack: Probe, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Builds an adopted single-user secret with unique names: user, database, secret, prefix."""

    def build(**kwargs: Any) -> Stack:
        n = next(STACK_NUMBERS)
        prefix = f"/db/t{n}"
        monkeypatch.setenv("PARAMETER_PREFIX", prefix)
        monkeypatch.setenv("DB_TLS_MODE", kwargs.pop("tls_mode", "disable"))
        monkeypatch.setenv("ROTATION_GRACE_SECONDS", str(kwargs.pop("grace", 0)))
        sm = boto3.client("secretsmanager")
        app = seed_application(
            engine_stack.db,
            sm,
            name=f"app/t{n}",
            username=kwargs.pop("username", f"app{n}"),
            dbname=kwargs.pop("dbname", f"db{n}"),
            **kwargs,
        )
        return Stack(engine_stack.db, moto_server, sm, boto3.client("ssm"), app, prefix, n, engine_stack)

    return build


@pytest.fixture
def stack(make_stack: Any) -> Stack:
    return make_stack()  # type: ignore[no-any-return]


pytest_plugins = ["tests.leakcheck", "tests.reporting"]
logging.getLogger("werkzeug").setLevel(logging.WARNING)
