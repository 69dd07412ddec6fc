"""The layer's consumers with PostgreSQL URLs against a real PostgreSQL 15 (TLS ``verify-full`` against
the server's CA, SCRAM) and moto's Parameter Store: ``connect()``, the SQLAlchemy engine, the asyncio
consumer and engine, through rotations played at the database and Parameter Store level
(:mod:`tests.integration.layer.pg_rotations`), and the refused-login rule (SQLSTATE 28P01). The
bodies every engine shares run for both through the ``rig`` fixture (``test_consumer_rotations``,
``test_consumer_runtimes``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from bluegreen_db.async_consumer import AsyncBlueGreenConsumer
from bluegreen_db.consumer import BlueGreenConsumer
from bluegreen_db.sqlalchemy_engine import connection_color, create_engine
from tests.integration.layer.pg_rotations import PgRotations
from tests.integration.layer.test_async_rotations import AsyncLoad

WHO_SQL = "SELECT current_user"


def _who(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute(WHO_SQL).fetchone()
    assert row is not None
    return str(row[0])


async def _who_async(consumer: AsyncBlueGreenConsumer, role: str = "writer") -> str:
    conn = await consumer.connect(role)
    try:
        cur = await conn.execute(WHO_SQL)
        row = await cur.fetchone()
        return str(row[0])
    finally:
        await conn.close()


def test_pg_refused_password_refreshes_once_and_succeeds(
    pg_rotations: PgRotations, count_ssm_calls: Any
) -> None:
    rot = pg_rotations
    consumer = BlueGreenConsumer(rot.prefix, ttl=3600)  # the cache would never expire on its own
    calls = count_ssm_calls(consumer.client)
    with consumer.connect() as conn:
        assert _who(conn) == rot.users["blue"]
    stale = consumer.current().url("writer")
    rot.rotate()  # green gets a new password
    rot.rotate()  # blue gets a new password: the cached one is wrong now
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host=stale.host,
            port=stale.port,
            user=stale.username,
            password=stale.password,
            dbname=stale.database,
            sslmode="disable",
        )
    before = calls["GetParameters"]
    with consumer.connect() as conn:
        assert _who(conn) == rot.users["blue"]
    assert calls["GetParameters"] == before + 1
    assert consumer.current().url("writer").password == rot.passwords["blue"]


def test_pg_28p01_without_newer_credentials_makes_exactly_one_forced_refresh(
    pg_rotations: PgRotations, count_ssm_calls: Any
) -> None:
    rot = pg_rotations
    consumer = BlueGreenConsumer(rot.prefix, ttl=3600)
    calls = count_ssm_calls(consumer.client)
    consumer.current()
    rot.set_password("blue", "out-of-band-Pw-1")  # behind the rotation's back: nothing newer anywhere
    for _ in range(5):  # five refused logins within the forced-refresh interval
        with pytest.raises(psycopg.OperationalError) as denied:
            consumer.connect()
        assert denied.value.sqlstate in (None, "28P01")
    assert calls["GetParameters"] == 2  # the initial read and exactly one forced refresh
    assert "out-of-band" not in str(denied.value)


@pytest.mark.slow
def test_pg_sqlalchemy_pool_drains_old_color_connections(
    pg_rotations: PgRotations, count_ssm_calls: Any, ttl: float
) -> None:
    rot = pg_rotations
    blue, green = rot.users["blue"], rot.users["green"]
    consumer = BlueGreenConsumer(rot.prefix, ttl=ttl)
    calls = count_ssm_calls(consumer.client)
    engine = create_engine("writer", consumer=consumer, pool_size=2, max_overflow=4)
    assert engine.url.drivername == "postgresql+psycopg"
    assert engine.url.password is None, "the engine never holds a credential"

    held = engine.connect()  # checked out across the flip
    assert held.scalar(text(WHO_SQL)) == blue
    with engine.connect() as pooled:  # returned to the pool before the flip
        assert pooled.scalar(text(WHO_SQL)) == blue
        assert pooled.connection.dbapi_connection.pgconn.ssl_in_use  # type: ignore[union-attr]

    assert rot.rotate() == "green"
    time.sleep(ttl + 0.2)
    assert held.scalar(text(WHO_SQL)) == blue, "a connection opened before the flip keeps working"
    with engine.connect() as fresh:
        assert fresh.scalar(text(WHO_SQL)) == green, "new pool connections use the flag's color"
        assert connection_color(fresh.connection._connection_record) == "green"  # type: ignore[union-attr]
    held.close()  # back to the pool: its old-color session is closed at checkin

    assert rot.sessions_of("blue") == 0
    assert rot.sessions_of("green") >= 1
    assert rot.rotate(require_no_sessions=True) == "blue"
    time.sleep(ttl + 0.2)
    with engine.connect() as c1, engine.connect() as c2:
        assert c1.scalar(text(WHO_SQL)) == blue
        assert c2.scalar(text(WHO_SQL)) == blue
    assert rot.sessions_of("green") == 0
    assert rot.rotate(require_no_sessions=True) == "green"
    assert calls["GetParameters"] == consumer.refreshes
    engine.dispose()


def test_pg_sqlalchemy_refused_login_refreshes_and_retries(
    pg_rotations: PgRotations, count_ssm_calls: Any
) -> None:
    rot = pg_rotations
    consumer = BlueGreenConsumer(rot.prefix, ttl=3600)
    calls = count_ssm_calls(consumer.client)
    engine = create_engine("writer", consumer=consumer, pool_size=1, max_overflow=0, replace_on_flip=False)
    with engine.connect() as c:
        assert c.scalar(text(WHO_SQL)) == rot.users["blue"]
    engine.dispose()
    rot.rotate()  # green
    rot.rotate()  # blue, new password: the engine's cached credentials are stale
    with engine.connect() as c:
        assert c.scalar(text(WHO_SQL)) == rot.users["blue"]
    assert calls["GetParameters"] == 2
    engine.dispose()


def test_pg_drainer_closes_idle_old_color_connections(pg_rotations: PgRotations, ttl: float) -> None:
    rot = pg_rotations
    consumer = BlueGreenConsumer(rot.prefix, ttl=ttl)
    engine = create_engine("writer", consumer=consumer, pool_size=3, drain_interval=0.2)
    conns = [engine.connect() for _ in range(3)]
    for c in conns:
        assert c.scalar(text(WHO_SQL)) == rot.users["blue"]
        c.close()
    assert rot.sessions_of("blue") == 3
    rot.rotate()  # green
    deadline = time.monotonic() + ttl * 2 + 5
    while rot.sessions_of("blue") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rot.sessions_of("blue") == 0
    engine.dispose()


@pytest.mark.slow
def test_pg_async_consumer_and_engine_through_three_rotations(
    pg_rotations: PgRotations, ttl: float, no_password_in_pg_logs: list[str]
) -> None:
    rot = pg_rotations
    consumer = AsyncBlueGreenConsumer(BlueGreenConsumer(rot.prefix, ttl=ttl))
    with AsyncLoad(consumer, who_sql=WHO_SQL, direct=lambda c: _who_async(c, "reader")) as load:
        flags = rot.rotate_under_load(no_password_in_pg_logs, settle=ttl * 2.5)
    assert load.errors == []
    assert flags == ["green", "blue", "green"]
    assert load.ticks_during_refreshes, "the load refreshed"
    assert min(load.ticks_during_refreshes) >= 3, "the loop kept running during every refresh"
    last = rot.last_finished
    assert last is not None
    for path in ("direct", "pooled"):
        assert {u for _, p, u in load.seen if p == path} == set(rot.users.values())
        late = {u for ts, p, u in load.seen if p == path and ts > last + ttl * 2 + 0.1}
        assert late == {rot.users["green"]}, f"{path}: after two TTLs every worker uses the flag's color"


def test_pg_async_refused_login_refreshes_once_and_retries(
    pg_rotations: PgRotations, count_ssm_calls: Any
) -> None:
    rot = pg_rotations
    sync = BlueGreenConsumer(rot.prefix, ttl=3600)
    calls = count_ssm_calls(sync.client)
    consumer = AsyncBlueGreenConsumer(sync)
    assert asyncio.run(_who_async(consumer)) == rot.users["blue"]
    rot.rotate()  # green
    rot.rotate()  # blue gets a new password: the cached one is wrong now
    assert asyncio.run(_who_async(consumer)) == rot.users["blue"]
    assert calls["GetParameters"] == 2
