"""Consumer TLS against a MariaDB serving TLS (certificate for ``localhost`` only, a CA made for the
test) and against the session's plain MariaDB: every path (connect, SQLAlchemy, asyncio) encrypts as
the settings say and never falls back to plaintext. The server's ``Ssl_cipher`` proves encryption."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pymysql
import pytest
from sqlalchemy import text

from bluegreen_db.async_consumer import AsyncBlueGreenConsumer
from bluegreen_db.async_engine import create_async_engine
from bluegreen_db.consumer import BlueGreenConsumer
from bluegreen_db.dburl import build_url
from bluegreen_db.errors import ParameterInvalidError, TlsError
from bluegreen_db.sqlalchemy_engine import create_engine
from bluegreen_ops.devstack.mariadb import MariaDB
from bluegreen_ops.devstack.tls import TlsFiles, make_tls_files

_counter = itertools.count(1)
PASSWORD = "tls-Consumer-Pw-1"
CIPHER = "SHOW STATUS LIKE 'Ssl_cipher'"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(Path(tmp_path_factory.mktemp("consumer-tls")), ("localhost",))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(Path(tmp_path_factory.mktemp("consumer-tls-other")), ("localhost",))


@pytest.fixture(scope="module")
def tls_db(tls_files: TlsFiles) -> Iterator[MariaDB]:
    db = MariaDB(tls=tls_files).start()
    yield db
    db.stop()


@pytest.fixture
def published(tls_db: MariaDB, moto_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A user on the TLS server and the flag plus URLs for it in Parameter Store; returns a builder
    taking the URL's host and query."""
    monkeypatch.delenv("BLUEGREEN_DB_TLS_MODE", raising=False)
    monkeypatch.delenv("BLUEGREEN_DB_TLS_CA_FILE", raising=False)

    def publish(host: str = "localhost", query: str = "", db: MariaDB | None = None) -> str:
        n = next(_counter)
        server = db or tls_db
        user = f"tlsc{n}"
        server.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (user, PASSWORD))
        prefix = f"/db/tlsc{n}"
        ssm = boto3.client("ssm")
        ssm.put_parameter(Name=f"{prefix}/blue-green-env", Value="blue", Type="String")
        url = build_url("mysql+pymysql", user, PASSWORD, host, server.port, "") + query
        for role in ("writer", "reader"):
            ssm.put_parameter(Name=f"{prefix}/blue/{role}-db-url", Value=url, Type="SecureString")
        return prefix

    return publish


def _cipher(conn: Any) -> str:
    with conn.cursor() as cur:
        cur.execute(CIPHER)
        return str(cur.fetchone()[1])


def test_default_verify_full_connects_over_tls(published, tls_files, monkeypatch):
    monkeypatch.setenv("BLUEGREEN_DB_TLS_CA_FILE", str(tls_files.ca_cert))
    consumer = BlueGreenConsumer(published())
    assert consumer.tls.mode == "verify-full"
    with consumer.connect() as conn:
        assert _cipher(conn)


def test_verify_full_refuses_a_host_name_the_certificate_does_not_name(published, tls_files):
    consumer = BlueGreenConsumer(published(host="127.0.0.1"), tls_ca_file=str(tls_files.ca_cert))
    with pytest.raises(pymysql.err.OperationalError, match=r"(?i)certificate|hostname|match"):
        consumer.connect()
    verify_ca = BlueGreenConsumer(
        published(host="127.0.0.1"), tls_mode="verify-ca", tls_ca_file=str(tls_files.ca_cert)
    )
    with verify_ca.connect() as conn:
        assert _cipher(conn)


def test_a_wrong_ca_is_refused_and_a_url_ssl_ca_wins_over_the_environment(
    published, tls_files, other_ca, monkeypatch
):
    monkeypatch.setenv("BLUEGREEN_DB_TLS_CA_FILE", str(other_ca.ca_cert))
    with pytest.raises(pymysql.err.OperationalError, match=r"(?i)certificate"):
        BlueGreenConsumer(published()).connect()
    honoured = BlueGreenConsumer(published(query=f"?ssl_ca={tls_files.ca_cert}"))
    with honoured.connect() as conn:
        assert _cipher(conn)


def test_require_against_a_server_without_tls_is_refused_on_every_path(published, mariadb):
    prefix = published(host="127.0.0.1", db=mariadb)  # the session's MariaDB serves no TLS
    consumer = BlueGreenConsumer(prefix, tls_mode="require")
    with pytest.raises(pymysql.err.OperationalError):
        consumer.connect()
    engine = create_engine("writer", consumer=consumer)
    with pytest.raises(Exception, match=r"(?i)ssl|tls"):
        engine.connect()
    engine.dispose()
    with pytest.raises(TlsError, match="offers no TLS"):
        asyncio.run(AsyncBlueGreenConsumer(consumer).connect())


def test_engines_encrypt_with_the_consumers_settings(published, tls_files):
    consumer = BlueGreenConsumer(published(), tls_ca_file=str(tls_files.ca_cert))
    engine = create_engine("writer", consumer=consumer)
    with engine.connect() as conn:
        assert conn.execute(text(CIPHER)).one()[1]
    engine.dispose()

    async def run() -> str:
        async_engine = await create_async_engine("reader", consumer=consumer)
        async with async_engine.connect() as conn:
            cipher = (await conn.execute(text(CIPHER))).one()[1]
        await async_engine.dispose()
        return str(cipher)

    assert asyncio.run(run())


def test_an_unsupported_url_option_fails_loudly_naming_the_parameter(published):
    prefix = published(query="?ssl_cert=/client.pem")
    with pytest.raises(ParameterInvalidError, match=f"{prefix}/blue/writer-db-url.*'ssl_cert'"):
        BlueGreenConsumer(prefix).current()
