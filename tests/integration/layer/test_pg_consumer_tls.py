"""Consumer TLS with PostgreSQL URLs: ``verify-full`` against the test server's CA encrypts on every
path (the server's ``pg_stat_ssl`` proves it), a wrong CA is refused, a URL's own ``sslrootcert`` and
``sslmode`` win over the environment, and a server serving no TLS is refused when TLS is required:
libpq's ``sslmode`` is never ``prefer``/``allow``, so nothing falls back to plaintext."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from sqlalchemy import text

from bluegreen_db.async_consumer import AsyncBlueGreenConsumer
from bluegreen_db.async_engine import create_async_engine
from bluegreen_db.consumer import BlueGreenConsumer
from bluegreen_db.sqlalchemy_engine import create_engine
from bluegreen_ops.devstack.postgresql import PostgreSQL
from bluegreen_ops.devstack.tls import TlsFiles, make_tls_files
from tests.integration.layer.pg_rotations import PgRotations, start_server

SSL_IN_USE = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(Path(tmp_path_factory.mktemp("pg-consumer-other-ca")))


@pytest.fixture(scope="module")
def plain_server(moto_server: Any) -> Iterator[PostgreSQL]:
    server = start_server(tls=False)
    yield server
    server.stop()


@pytest.fixture
def plain(plain_server: PostgreSQL, monkeypatch: pytest.MonkeyPatch) -> Iterator[PgRotations]:
    rotations = PgRotations(plain_server, boto3.client("ssm"), grace=0.0).create()
    monkeypatch.setenv("PARAMETER_PREFIX", rotations.prefix)
    yield rotations
    rotations.drop()


def _publish_with_query(rot: PgRotations, query: str) -> None:
    """The flag's color's URLs with options (``?sslmode=...``), as an operator may write them."""
    for role in ("writer", "reader"):
        rot.ssm.put_parameter(
            Name=rot.names.url(rot.color, role),
            Value=rot.url(rot.color) + query,
            Type="SecureString",
            Overwrite=True,
        )


def test_verify_full_against_the_servers_ca_encrypts_every_path(pg_rotations: PgRotations) -> None:
    consumer = BlueGreenConsumer(pg_rotations.prefix)
    assert consumer.tls.mode == "verify-full"
    with consumer.connect() as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute(SSL_IN_USE).fetchone() == (True,)
        assert conn.info.get_parameters()["sslmode"] == "verify-full"
    engine = create_engine("writer", consumer=consumer)
    with engine.connect() as c:
        assert c.scalar(text(SSL_IN_USE)) is True
    engine.dispose()

    async def via_async() -> tuple[Any, Any]:
        aconsumer = AsyncBlueGreenConsumer(consumer)
        conn = await aconsumer.connect()
        try:
            direct = await (await conn.execute(SSL_IN_USE)).fetchone()
        finally:
            await conn.close()
        aengine = await create_async_engine("writer", consumer=aconsumer)
        try:
            async with aengine.connect() as ac:
                pooled = await ac.scalar(text(SSL_IN_USE))
        finally:
            await aengine.dispose()
        return direct, pooled

    assert asyncio.run(via_async()) == ((True,), True)


def test_a_wrong_ca_is_refused_and_a_urls_sslrootcert_wins_over_the_environment(
    pg_rotations: PgRotations, other_ca: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLUEGREEN_DB_TLS_CA_FILE", str(other_ca.ca_cert))
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        BlueGreenConsumer(pg_rotations.prefix).connect()
    _publish_with_query(pg_rotations, f"?sslmode=verify-full&sslrootcert={pg_rotations.pg.ca_file}")
    with BlueGreenConsumer(pg_rotations.prefix).connect() as conn:
        assert conn.pgconn.ssl_in_use


def test_require_against_a_server_without_tls_is_refused_on_every_path(plain: PgRotations) -> None:
    consumer = BlueGreenConsumer(plain.prefix, tls_mode="require")
    with pytest.raises(psycopg.OperationalError, match="SSL"):
        consumer.connect()
    engine = create_engine("writer", consumer=consumer)
    with pytest.raises(Exception, match="SSL"):
        engine.connect()
    engine.dispose()
    with pytest.raises(psycopg.OperationalError, match="SSL"):
        asyncio.run(AsyncBlueGreenConsumer(consumer).connect())
    with pytest.raises(ValueError, match="falls back to plaintext"):
        consumer.connect(sslmode="prefer")


def test_plaintext_only_when_the_settings_or_the_url_say_disable(
    plain: PgRotations, monkeypatch: pytest.MonkeyPatch
) -> None:
    with BlueGreenConsumer(plain.prefix, tls_mode="disable").connect() as conn:
        assert not conn.pgconn.ssl_in_use
    monkeypatch.setenv("BLUEGREEN_DB_TLS_MODE", "require")
    with pytest.raises(psycopg.OperationalError, match="SSL"):
        BlueGreenConsumer(plain.prefix).connect()
    _publish_with_query(plain, "?sslmode=disable")  # the URL's own option wins over the environment
    with BlueGreenConsumer(plain.prefix).connect() as conn:
        assert not conn.pgconn.ssl_in_use
