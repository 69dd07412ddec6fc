"""The Django backend's own logic with plain fakes: credentials and TLS from the snapshot, the
refused-login retry, closing a persistent connection of the color the flag has left, one consumer
per setting. No Django settings are configured: the wrapper is built from a settings dict."""

from __future__ import annotations

from typing import Any

import pymysql
import pytest

pytest.importorskip("django")

from bluegreen_db_django import follow
from bluegreen_db_django import mysql as base
from tests.unit.layer.fakes import BLUE_PW, GREEN_PW, PREFIX, make, parameters


def settings_dict(**bluegreen: Any) -> dict[str, Any]:
    return {
        "ENGINE": "bluegreen_db_django",
        "NAME": "",
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "OPTIONS": {},
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False,
        "TIME_ZONE": None,
        "TEST": {},
        "BLUEGREEN": bluegreen,
    }


def wrapper_with(consumer: Any, **bluegreen: Any) -> base.DatabaseWrapper:
    wrapper = base.DatabaseWrapper(settings_dict(**bluegreen), alias="unit")
    wrapper._bluegreen_consumer = consumer
    return wrapper


class FakeConnection:
    def __init__(self, user: str) -> None:
        self.user = user
        self.encoders: dict[Any, Any] = {}

    def close(self) -> None:
        pass


def test_connection_params_come_from_the_snapshot_of_the_role():
    consumer, _, _ = make()
    params = wrapper_with(consumer, role="reader").get_connection_params()
    assert (params["user"], params["password"], params["host"], params["port"]) == (
        "app",
        BLUE_PW,
        "reader.example",
        3306,
    )
    assert params["database"] == "appdb"
    assert params["ssl_disabled"] is True  # the consumer's TLS mode (disable in these fakes)


def test_name_overrides_the_urls_database_and_own_ssl_options_replace_the_tls_settings():
    consumer, _, _ = make(tls_mode="require")
    settings = settings_dict()
    settings["NAME"] = "other_db"
    settings["OPTIONS"] = {"ssl": {"ca": "/ca.pem"}}
    wrapper = base.DatabaseWrapper(settings, alias="unit")
    wrapper._bluegreen_consumer = consumer
    params = wrapper.get_connection_params()
    assert params["database"] == "other_db"
    assert params["ssl"] == {"ca": "/ca.pem"} and "ssl_disabled" not in params


def test_a_bad_role_is_refused_when_the_wrapper_is_built():
    with pytest.raises(ValueError, match="role"):
        base.DatabaseWrapper(settings_dict(role="admin"), alias="unit")


def test_a_refused_login_refreshes_and_retries_with_the_new_credentials(monkeypatch):
    consumer, ssm, _ = make(ttl=3600)
    wrapper = wrapper_with(consumer)
    params = wrapper.get_connection_params()
    ssm.values.update(parameters(blue_pw="rotated-pw"))
    attempts: list[str] = []

    def fake_connect(**kwargs: Any) -> FakeConnection:
        attempts.append(kwargs["password"])
        if kwargs["password"] != "rotated-pw":
            raise pymysql.err.OperationalError(1045, "Access denied")
        return FakeConnection(kwargs["user"])

    monkeypatch.setattr(pymysql, "connect", fake_connect)
    conn = wrapper.get_new_connection(params)
    assert isinstance(conn, FakeConnection)
    assert attempts == [BLUE_PW, "rotated-pw"]
    assert len(ssm.calls) == 2
    assert wrapper._bluegreen_color == "blue"


def test_other_errors_are_not_retried(monkeypatch):
    consumer, ssm, _ = make(ttl=3600)
    wrapper = wrapper_with(consumer)
    params = wrapper.get_connection_params()

    def refused(**kwargs: Any) -> FakeConnection:
        raise pymysql.err.OperationalError(2003, "Can't connect")

    monkeypatch.setattr(pymysql, "connect", refused)
    with pytest.raises(pymysql.err.OperationalError):
        wrapper.get_new_connection(params)
    assert len(ssm.calls) == 1


def test_a_persistent_connection_of_the_old_color_is_closed_outside_transactions(monkeypatch):
    consumer, ssm, clock = make(ttl=10)
    wrapper = wrapper_with(consumer)
    params = wrapper.get_connection_params()
    monkeypatch.setattr(pymysql, "connect", lambda **kw: FakeConnection(kw["user"]))
    wrapper.connection = wrapper.get_new_connection(params)
    wrapper.autocommit = True  # as Django's connect() leaves it
    closed: list[bool] = []
    monkeypatch.setattr(wrapper, "close", lambda: closed.append(True))

    wrapper._close_if_old_color()
    assert closed == []  # the flag still names blue

    ssm.values.update(parameters(flag="green"))
    clock.now += 11
    wrapper.in_atomic_block = True
    wrapper._close_if_old_color()
    wrapper.in_atomic_block = False
    wrapper.autocommit = False
    wrapper._close_if_old_color()
    assert closed == []  # a transaction may be open: never cut it
    wrapper.autocommit = True
    wrapper._close_if_old_color()
    assert closed == [True]


def test_a_flag_read_failure_keeps_the_connection(monkeypatch, caplog):
    consumer, ssm, clock = make(ttl=10, stale_if_error=0)
    wrapper = wrapper_with(consumer)
    params = wrapper.get_connection_params()
    monkeypatch.setattr(pymysql, "connect", lambda **kw: FakeConnection(kw["user"]))
    wrapper.connection = wrapper.get_new_connection(params)
    wrapper.autocommit = True  # as Django's connect() leaves it
    closed: list[bool] = []
    monkeypatch.setattr(wrapper, "close", lambda: closed.append(True))
    ssm.failure = lambda: RuntimeError("down")
    clock.now += 11
    wrapper._close_if_old_color()
    assert closed == []
    assert "keeping the connection" in caplog.text


def test_one_consumer_per_distinct_setting(monkeypatch):
    monkeypatch.setattr(follow, "_consumers", {})
    a = follow.consumer_for({"prefix": PREFIX, "ttl": 5})
    assert follow.consumer_for({"prefix": PREFIX, "ttl": 5}) is a
    assert follow.consumer_for({"prefix": PREFIX, "ttl": 6}) is not a
    assert a.ttl == 5 and a.names.prefix == PREFIX


def test_tls_params_for_the_dbapi_in_use():
    consumer, _, _ = make()
    assert base.tls_params(consumer.tls) == {"ssl_disabled": True}
    assert GREEN_PW not in repr(base.tls_params(consumer.tls))
