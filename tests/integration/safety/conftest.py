"""Fixtures for the safety tests: a second MariaDB serving TLS, stacks on it, the server's general log,
and a session summary of the fault-injection coverage.

The session-wide MariaDB and moto server, and ``make_stack`` (an adopted secret on the plain MariaDB),
come from ``tests/conftest.py``. Nothing is mocked: the function runs against both servers for real.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from bluegreen_ops.devstack.mariadb import MariaDB
from bluegreen_ops.devstack.moto_server import MotoServer
from bluegreen_ops.devstack.seeding import seed_application
from bluegreen_ops.devstack.tls import TlsFiles, make_tls_files
from tests import faults

# The server certificate names only "localhost": connecting to 127.0.0.1 is a hostname mismatch.
CERT_HOSTNAMES = ("localhost",)
_counter = itertools.count(1)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(Path(tmp_path_factory.mktemp("tls-server")), CERT_HOSTNAMES)


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A second, unrelated CA (with its own server certificate, unused): the wrong CA."""
    return make_tls_files(Path(tmp_path_factory.mktemp("tls-other")), CERT_HOSTNAMES)


@pytest.fixture(scope="module")
def tls_mariadb(tls_files: TlsFiles) -> Iterator[MariaDB]:
    db = MariaDB(tls=tls_files).start()
    yield db
    db.stop()


@dataclass
class TlsStack:
    db: MariaDB
    secretsmanager: Any
    ssm: Any
    secret_arn: str
    username: str
    green: str
    dbname: str
    host: str
    prefix: str


@pytest.fixture
def make_tls_stack(tls_mariadb: MariaDB, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An adopted secret on the TLS MariaDB; the secret and the master secret name ``host``.

    ``tls_mode`` and ``ca_file`` become the function's ``DB_TLS_MODE`` and ``DB_TLS_CA_FILE``;
    ``require`` is applied to the app user with root before any rotation (``"SSL"``, ``"X509"``).
    """

    def build(*, host: str, tls_mode: str, ca_file: Path | None, require: str | None = None) -> TlsStack:
        n = next(_counter)
        prefix = f"/db/tls{n}"
        monkeypatch.setenv("PARAMETER_PREFIX", prefix)
        monkeypatch.setenv("DB_TLS_MODE", tls_mode)
        if ca_file is None:
            monkeypatch.delenv("DB_TLS_CA_FILE", raising=False)
        else:
            monkeypatch.setenv("DB_TLS_CA_FILE", str(ca_file))
        monkeypatch.setenv("ROTATION_GRACE_SECONDS", "0")
        sm = boto3.client("secretsmanager")
        username = f"tlsapp{n}"
        app = seed_application(
            tls_mariadb,
            sm,
            name=f"app/tls{n}",
            username=username,
            dbname=f"tlsdb{n}",
            extra_secret={"host": host},
            master_extra={"host": host},
        )
        if require:
            tls_mariadb.execute(f"ALTER USER %s@'%%' REQUIRE {require}", (username,))
        return TlsStack(
            tls_mariadb,
            sm,
            boto3.client("ssm"),
            app.secret_arn,
            username,
            f"{username}_green",
            app.dbname,
            host,
            prefix,
        )

    return build


class GeneralLog:
    """The server's general log (as a table) while a block runs: who connected, and how."""

    def __init__(self, db: MariaDB) -> None:
        self._db = db
        self.rows: list[tuple[str, str, str]] = []

    def __enter__(self) -> GeneralLog:
        self._db.execute("SET GLOBAL log_output = 'TABLE'")
        self._db.execute("TRUNCATE TABLE mysql.general_log")
        self._db.execute("SET GLOBAL general_log = 1")
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.execute("SET GLOBAL general_log = 0")
        rows = self._db.execute("SELECT user_host, command_type, argument FROM mysql.general_log")
        self.rows = [tuple(_text(v) for v in row) for row in rows]  # type: ignore[misc]

    def connects(self, users: tuple[str, ...]) -> list[str]:
        """The ``Connect`` lines of TCP clients logging in as any of ``users`` (tried or succeeded)."""
        return [
            arg
            for _who, command, arg in self.rows
            if command == "Connect" and any(arg.startswith(f"{u}@") for u in users)
        ]


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes | bytearray) else str(value)


@pytest.fixture
def general_log() -> Any:
    return GeneralLog


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not faults.COVERAGE:
        return
    terminalreporter.write_sep("=", "fault injection coverage")
    for key, count in sorted(faults.COVERAGE.items()):
        terminalreporter.write_line(f"{key}: {count}")
    total = sum(v for k, v in faults.COVERAGE.items() if k.startswith("points "))
    terminalreporter.write_line(f"injection points covered in total: {total}")
