"""The layer's consumer against the real stack: real rotations, real MariaDB, moto's Parameter Store
(and, for the bodies the engines share, ``rig``: PostgreSQL 15 too)."""

from __future__ import annotations

import threading
import time

import boto3
import pymysql
import pytest

from bluegreen_db.consumer import BlueGreenConsumer, ParameterMissingError
from tests.helpers import secret_value


def _current_user(conn: pymysql.connections.Connection) -> str:
    with conn.cursor() as cur:
        cur.execute("SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)")
        row = cur.fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.slow
def test_consumer_keeps_working_through_three_rotations(rig, count_ssm_calls, ttl):
    consumer = BlueGreenConsumer(rig.prefix, ttl=ttl)
    calls = count_ssm_calls(consumer.client)
    start = rig.flag()

    seen: list[tuple[float, str, str]] = []  # (time, role, user)
    errors: list[BaseException] = []
    stop = threading.Event()

    def work(role: str) -> None:
        while not stop.is_set():
            try:
                with consumer.connect(role) as conn:  # a fresh connection per operation, Lambda-style
                    seen.append((time.monotonic(), role, rig.who(conn)))
            except Exception as exc:
                errors.append(exc)
            time.sleep(0.01)

    threads = [threading.Thread(target=work, args=(role,)) for role in ("writer", "reader") for _ in range(3)]
    for t in threads:
        t.start()
    try:
        flags = rig.rotations.rotate_under_load(rig.passwords, settle=ttl * 2.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)

    assert errors == []
    other = "blue" if start == "green" else "green"
    assert flags == [other, start, other]
    assert {user for _, _, user in seen} == set(rig.users.values())
    last_flip = rig.rotations.last_finished
    assert last_flip is not None
    late = {user for ts, _, user in seen if ts > last_flip + ttl * 2 + 0.1}
    assert late == {rig.users[other]}, "after a ttl every worker uses the flag's color"
    # One GetParameters per refresh, never a GetParameter; about one refresh per ttl, not per operation.
    assert calls["GetParameters"] == consumer.refreshes
    assert calls["GetParameter"] == 0
    assert consumer.refreshes < len(seen) / 5


@pytest.mark.slow
def test_access_denied_refreshes_once_and_succeeds(
    layer_stack, rotator, no_password_in_logs, count_ssm_calls
):
    stack = layer_stack
    rotator.rotate()  # flag: green
    consumer = BlueGreenConsumer(stack.prefix, ttl=3600)  # the cache would never expire on its own
    calls = count_ssm_calls(consumer.client)
    with consumer.connect() as conn:
        assert _current_user(conn).endswith("_green")
    stale_green = consumer.current().url("writer")
    assert rotator.rotate() == "blue"  # blue gets a new password; green untouched
    assert rotator.rotate() == "green"  # green gets a new password: the cached one is now wrong
    no_password_in_logs.extend([stale_green.password, secret_value(stack)["password"]])
    with pytest.raises(pymysql.err.OperationalError) as denied:
        pymysql.connect(
            host=stale_green.host,
            port=stale_green.port,
            user=stale_green.username,
            password=stale_green.password,
        )
    assert denied.value.args[0] == 1045

    before = calls["GetParameters"]
    with consumer.connect() as conn:
        assert _current_user(conn) == f"{stack.app.username}_green"
    assert calls["GetParameters"] == before + 1
    assert consumer.current().url("writer").password == secret_value(stack)["password"]


def test_access_denied_without_newer_credentials_raises_after_one_refresh(
    layer_stack, rotator, count_ssm_calls
):
    stack = layer_stack
    rotator.rotate()
    consumer = BlueGreenConsumer(stack.prefix, ttl=3600)
    calls = count_ssm_calls(consumer.client)
    consumer.current()
    # Someone changes green's password behind the rotation's back: Parameter Store has nothing newer.
    stack.db.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (f"{stack.app.username}_green", "out-of-band-1"))
    with pytest.raises(pymysql.err.OperationalError) as denied:
        consumer.connect()
    assert denied.value.args[0] == 1045
    assert calls["GetParameters"] == 2  # the initial read and exactly one forced refresh


def test_concurrent_expiry_costs_one_call(layer_stack, rotator, count_ssm_calls):
    stack = layer_stack
    rotator.rotate()
    now = [0.0]
    consumer = BlueGreenConsumer(stack.prefix, ttl=10, clock=lambda: now[0])
    calls = count_ssm_calls(consumer.client)
    consumer.current()
    now[0] = 100.0  # long expired: every thread must see fresh data, and only one may fetch it
    barrier = threading.Barrier(16)
    results = []

    def read() -> None:
        barrier.wait()
        results.append(consumer.current().generation)

    threads = [threading.Thread(target=read) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [2] * 16
    assert calls["GetParameters"] == 2


def test_missing_flag_names_the_parameter(moto_server):
    consumer = BlueGreenConsumer("/db/nothing-here", client=boto3.client("ssm"))
    with pytest.raises(ParameterMissingError, match="/db/nothing-here/blue-green-env"):
        consumer.current()


def test_flag_without_its_urls_names_them(moto_server):
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/db/half/blue-green-env", Value="blue", Type="String")
    ssm.put_parameter(
        Name="/db/half/blue/writer-db-url", Value="mysql+pymysql://u:p@h:3306/d", Type="SecureString"
    )
    consumer = BlueGreenConsumer("/db/half", client=ssm)
    with pytest.raises(ParameterMissingError) as missing:
        consumer.current()
    assert missing.value.names == ["/db/half/blue/reader-db-url"]
    assert "/db/half/blue/reader-db-url" in str(missing.value)
