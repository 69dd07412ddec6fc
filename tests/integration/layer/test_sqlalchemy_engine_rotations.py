"""The server-side engine against the real stack: new connections follow the flag, old ones keep working."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from bluegreen_db.consumer import BlueGreenConsumer
from bluegreen_db.sqlalchemy_engine import connection_color, create_engine

WHO = text("SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)")


def _sessions(stack, user: str) -> int:
    rows = stack.db.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s", (user,))
    return int(rows[0][0])


@pytest.mark.slow
def test_new_connections_switch_color_after_a_flip_while_old_ones_keep_working(
    layer_stack, rotator, count_ssm_calls, ttl, no_password_in_logs, monkeypatch
):
    stack = layer_stack
    blue, green = stack.app.username, f"{stack.app.username}_green"
    assert rotator.rotate() == "green"
    consumer = BlueGreenConsumer(stack.prefix, ttl=ttl)
    calls = count_ssm_calls(consumer.client)
    engine = create_engine("writer", consumer=consumer, pool_size=2, max_overflow=4)
    assert engine.url.password is None, "the engine never holds a credential"

    held = engine.connect()  # checked out across the flip
    assert held.scalar(WHO) == green
    with engine.connect() as pooled:  # returned to the pool before the flip
        assert pooled.scalar(WHO) == green

    assert rotator.rotate() == "blue"
    time.sleep(ttl + 0.2)

    assert held.scalar(WHO) == green, "a connection opened before the flip keeps working"
    with engine.connect() as fresh:
        assert fresh.scalar(WHO) == blue, "new pool connections use the flag's color"
        assert connection_color(fresh.connection._connection_record) == "blue"  # type: ignore[union-attr]
    held.close()  # back to the pool: its old-color session is closed at checkin (replace_on_flip)

    # No green session is left (the idle pooled one was replaced at checkout, the held one closed at
    # checkin), so the next rotation may give green a new password under ACTIVE_SESSION_POLICY=fail.
    assert _sessions(stack, green) == 0
    assert _sessions(stack, blue) >= 1
    assert rotator.rotate() == "green"
    time.sleep(ttl + 0.2)
    with engine.connect() as c1, engine.connect() as c2:
        assert c1.scalar(WHO) == green
        assert c2.scalar(WHO) == green
    assert calls["GetParameter"] == 0
    assert calls["GetParameters"] == consumer.refreshes
    engine.dispose()


@pytest.mark.slow
def test_without_replace_on_flip_pooled_connections_stay_on_their_color(layer_stack, rotator, ttl):
    stack = layer_stack
    blue, green = stack.app.username, f"{stack.app.username}_green"
    rotator.rotate()
    consumer = BlueGreenConsumer(stack.prefix, ttl=ttl)
    engine = create_engine("reader", consumer=consumer, pool_size=1, max_overflow=2, replace_on_flip=False)
    with engine.connect() as c:
        assert c.scalar(WHO) == green
    rotator.rotate()
    time.sleep(ttl + 0.2)
    with engine.connect() as reused, engine.connect() as new:
        assert reused.scalar(WHO) == green  # the pooled green session keeps working
        assert new.scalar(WHO) == blue  # an overflow connection is opened as blue
    engine.dispose()


@pytest.mark.slow
def test_engine_access_denied_refreshes_and_retries(layer_stack, rotator, count_ssm_calls):
    stack = layer_stack
    rotator.rotate()  # green
    consumer = BlueGreenConsumer(stack.prefix, ttl=3600)
    calls = count_ssm_calls(consumer.client)
    engine = create_engine("writer", consumer=consumer, pool_size=1, max_overflow=0, replace_on_flip=False)
    with engine.connect() as c:
        assert c.scalar(WHO).endswith("_green")
    engine.dispose()  # no green session left, so the rotation may change green's password
    rotator.rotate()  # blue
    rotator.rotate()  # green, new password: the engine's cached credentials are stale
    with engine.connect() as c:
        assert c.scalar(WHO) == f"{stack.app.username}_green"
    assert calls["GetParameters"] == 2
    engine.dispose()


@pytest.mark.slow
def test_drainer_closes_idle_old_color_connections(layer_stack, rotator, ttl):
    """A server with no traffic: its idle pooled green sessions would block the next rotation."""
    stack = layer_stack
    green = f"{stack.app.username}_green"
    rotator.rotate()  # green
    consumer = BlueGreenConsumer(stack.prefix, ttl=ttl)
    engine = create_engine("writer", consumer=consumer, pool_size=3, drain_interval=0.2)
    conns = [engine.connect() for _ in range(3)]
    for c in conns:
        assert c.scalar(WHO) == green
        c.close()  # all three idle in the pool, before the flip
    assert _sessions(stack, green) == 3
    rotator.rotate()  # blue
    deadline = time.monotonic() + ttl * 2 + 2
    while _sessions(stack, green) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _sessions(stack, green) == 0
    rotator.rotate()  # green gets a new password: nothing of it is in use any more
    time.sleep(ttl + 0.2)
    with engine.connect() as c:
        assert c.scalar(WHO) == green
    engine.dispose()


@pytest.mark.parametrize("role", ["writer", "reader"])
def test_engine_uses_url_of_role(layer_stack, rotator, role):
    rotator.rotate()
    consumer = BlueGreenConsumer(layer_stack.prefix, ttl=60)
    engine = create_engine(role, consumer=consumer, connect_args={"connect_timeout": 3})
    with engine.connect() as c:
        assert c.scalar(text("SELECT DATABASE()")) == layer_stack.app.dbname
    engine.dispose()
