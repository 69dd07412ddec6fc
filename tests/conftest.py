"""Session-wide real stack: one MariaDB and one moto server; each test gets its own names."""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from bluegreen_ops.devstack.mariadb import MariaDB
from bluegreen_ops.devstack.moto_server import MotoServer, aws_environment
from bluegreen_ops.devstack.seeding import AppDatabase, seed_application

_counter = itertools.count(1)


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


@dataclass
class Stack:
    db: MariaDB
    moto: MotoServer
    secretsmanager: Any
    ssm: Any
    app: AppDatabase
    prefix: str
    n: int


@pytest.fixture
def make_stack(mariadb: MariaDB, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Builds an adopted single-user secret with unique names: user, database, secret, prefix."""

    def build(**kwargs: Any) -> Stack:
        n = next(_counter)
        prefix = f"/db/t{n}"
        monkeypatch.setenv("PARAMETER_PREFIX", prefix)
        monkeypatch.setenv("DB_TLS_MODE", kwargs.pop("tls_mode", "disable"))
        monkeypatch.setenv("ROTATION_GRACE_SECONDS", str(kwargs.pop("grace", 0)))
        sm = boto3.client("secretsmanager")
        app = seed_application(
            mariadb,
            sm,
            name=f"app/t{n}",
            username=kwargs.pop("username", f"app{n}"),
            dbname=kwargs.pop("dbname", f"db{n}"),
            **kwargs,
        )
        return Stack(mariadb, moto_server, sm, boto3.client("ssm"), app, prefix, n)

    return build


@pytest.fixture
def stack(make_stack: Any) -> Stack:
    return make_stack()  # type: ignore[no-any-return]


pytest_plugins = ["tests.leakcheck", "tests.reporting"]
logging.getLogger("werkzeug").setLevel(logging.WARNING)
