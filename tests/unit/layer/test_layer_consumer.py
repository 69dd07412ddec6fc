"""The public API (BlueGreenConsumer, connect...) with plain fakes: one call, the refused-login retry,
redaction, import cost. Each concern it is composed of has its own tests (test_settings, test_snapshot,
test_refresh, test_source, test_drivers)."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import threading
from pathlib import Path

import pymysql
import pytest

import bluegreen_db
from bluegreen_db import consumer as consumer_module
from bluegreen_db.consumer import BlueGreenConsumer, ParameterMissingError, retry_snapshot
from bluegreen_db.dburl import build_url
from bluegreen_db.errors import UnsupportedSchemeError
from tests.unit.layer.fakes import BLUE_PW, GREEN_PW, HOLD_LIMIT, PREFIX, make, parameters, url

LAYER_PYTHON = Path(__file__).resolve().parents[3] / "layer" / "python"


def test_one_get_parameters_call_serves_the_flag_and_the_urls():
    consumer, ssm, _ = make()
    assert consumer.color == "blue"
    assert consumer.url("reader").host == "reader.example"
    assert consumer.db_url("writer") == url("app", BLUE_PW)
    assert consumer.current().url("writer", "green").username == "app_green"
    assert len(ssm.calls) == 1
    assert consumer.refreshes == consumer.parameter_calls == 1


def test_construction_does_no_io():
    _, ssm, _ = make()
    assert ssm.calls == []


def test_settings_are_the_resolved_ones():
    consumer = BlueGreenConsumer(environ={"ENV": "prod", "BLUEGREEN_CACHE_TTL": "2.5"})
    assert (consumer.names.prefix, consumer.ttl, consumer.refresh_timeout) == ("/db/prod", 2.5, 5.0)
    assert consumer.retry_mode == "standard" and consumer.tls.mode == "verify-full"


def test_the_ttl_lapses_on_the_consumers_clock():
    consumer, ssm, clock = make(ttl=60)
    consumer.current()
    ssm.values.update(parameters(flag="green"))
    clock.now += 59.9
    assert consumer.color == "blue"
    clock.now += 0.2
    assert consumer.color == "green"
    assert len(ssm.calls) == 2


def test_callers_get_the_just_expired_snapshot_while_one_refresh_is_held():
    consumer, ssm, clock = make(ttl=10, refresh_timeout=2 * HOLD_LIMIT)
    first = consumer.current()
    ssm.hold()
    clock.now += 11
    refresher = threading.Thread(target=consumer.current)
    refresher.start()
    assert ssm.entered.wait(HOLD_LIMIT)
    assert consumer.refreshing
    assert consumer.current() is first and consumer.cached is first
    assert ssm.held and refresher.is_alive()  # the caller returned while the refresh was held
    ssm.release()
    refresher.join(HOLD_LIMIT)
    assert consumer.current().generation == 2


def test_forced_refresh_is_coalesced_per_snapshot():
    consumer, ssm, _ = make()
    stale = consumer.current()
    fresh = consumer.refresh(stale=stale)
    assert consumer.refresh(stale=stale) is fresh
    assert len(ssm.calls) == 2
    consumer.invalidate()
    assert consumer.cached is None


def test_configuration_errors_surface_through_the_api():
    values = parameters()
    del values[f"{PREFIX}/blue-green-env"]
    consumer, _, _ = make(values)
    with pytest.raises(ParameterMissingError, match="PARAMETER_PREFIX"):
        consumer.current()


# -- redaction ---------------------------------------------------------------------------------


def test_reprs_never_show_a_password():
    consumer, _, _ = make()
    snap = consumer.current()
    for text in (repr(consumer), str(consumer), repr(snap), repr(snap.url()), str(snap.urls)):
        assert BLUE_PW not in text
        assert GREEN_PW not in text
        assert "blue-S3cret" not in text
    assert "color='blue'" in repr(consumer)


def test_logs_of_a_flip_and_a_retry_never_show_a_password(caplog, monkeypatch):
    caplog.set_level(logging.DEBUG, logger="bluegreen_db")
    consumer, ssm, clock = make(ttl=1)
    consumer.current()
    ssm.values.update(parameters(flag="green"))
    clock.now += 2
    consumer.current()  # logs the flip

    ssm.values.update(parameters(flag="green", green_pw="green-NEW-pw"))

    def fake_connect(**kwargs):
        if kwargs["password"] == GREEN_PW:
            raise pymysql.err.OperationalError(
                1045, "Access denied for user 'app_green'@'%' (using password: YES)"
            )
        return ("connection", kwargs["user"])

    monkeypatch.setattr(pymysql, "connect", fake_connect)
    assert consumer.connect() == ("connection", "app_green")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "moved from blue to green" in text
    assert "access denied" in text
    for secret in (BLUE_PW, GREEN_PW, "green-NEW-pw"):
        assert secret not in text


# -- connecting, and the refused-login retry ---------------------------------------------------


def test_access_denied_refreshes_once_bypassing_the_ttl_and_retries(monkeypatch):
    consumer, ssm, _ = make(ttl=3600)
    consumer.current()
    ssm.values.update(parameters(flag="blue", blue_pw="rotated-pw"))
    attempts: list[str] = []

    def fake_connect(**kwargs):
        attempts.append(kwargs["password"])
        if kwargs["password"] != "rotated-pw":
            raise pymysql.err.OperationalError(1045, "Access denied")
        return "ok"

    monkeypatch.setattr(pymysql, "connect", fake_connect)
    assert consumer.connect("writer", read_timeout=3) == "ok"
    assert attempts == [BLUE_PW, "rotated-pw"]
    assert len(ssm.calls) == 2


def test_access_denied_with_nothing_newer_raises_the_original_error(monkeypatch):
    consumer, ssm, _ = make(ttl=3600)
    attempts: list[str] = []

    def fake_connect(**kwargs):
        attempts.append(kwargs["password"])
        raise pymysql.err.OperationalError(1045, "Access denied")

    monkeypatch.setattr(pymysql, "connect", fake_connect)
    with pytest.raises(pymysql.err.OperationalError) as err:
        consumer.connect()
    assert err.value.args[0] == 1045
    assert attempts == [BLUE_PW]  # no pointless retry with the same credentials
    assert len(ssm.calls) == 2  # but exactly one forced refresh


def test_other_connection_errors_are_not_retried(monkeypatch):
    consumer, ssm, _ = make()

    def fake_connect(**kwargs):
        raise pymysql.err.OperationalError(2003, "Can't connect")

    monkeypatch.setattr(pymysql, "connect", fake_connect)
    with pytest.raises(pymysql.err.OperationalError):
        consumer.connect()
    assert len(ssm.calls) == 1


def test_connect_passes_credentials_and_defaults(monkeypatch):
    consumer, _, _ = make(connect_kwargs={"ssl": {"ca": "/ca.pem"}})
    seen = {}
    monkeypatch.setattr(pymysql, "connect", lambda **kw: seen.update(kw))
    consumer.connect("reader", connect_timeout=2)
    assert seen == {
        "host": "reader.example",
        "port": 3306,
        "user": "app",
        "password": BLUE_PW,
        "database": "appdb",
        "connect_timeout": 2,
        "ssl": {"ca": "/ca.pem"},  # the caller's own TLS settings replace the consumer's
    }


def test_a_url_scheme_without_a_driver_is_refused_before_connecting(monkeypatch):
    values = parameters()
    values[f"{PREFIX}/blue/writer-db-url"] = build_url("oracle+cx", "app", BLUE_PW, "h", 1521, "db")
    consumer, _, _ = make(values)
    monkeypatch.setattr(pymysql, "connect", lambda **kw: pytest.fail("no connect for an unknown scheme"))
    with pytest.raises(UnsupportedSchemeError, match="mysql\\+pymysql") as err:
        consumer.connect()
    assert BLUE_PW not in str(err.value)


def test_retry_snapshot_asks_the_urls_driver_whether_the_login_was_refused():
    consumer, ssm, _ = make(ttl=3600)
    snap = consumer.current()
    refused = pymysql.err.OperationalError(1045, "Access denied")
    assert retry_snapshot(consumer.refresh_after_denied, snap, "writer", RuntimeError()) is None
    assert len(ssm.calls) == 1  # not a refused login: no refresh
    assert retry_snapshot(consumer.refresh_after_denied, snap, "writer", refused) is None  # nothing newer
    ssm.values.update(parameters(blue_pw="rotated-pw"))
    fresh = retry_snapshot(consumer.refresh_after_denied, consumer.refresh(), "writer", refused)
    assert fresh is None  # the forced refresh for this interval was spent
    assert len(ssm.calls) == 3


# -- the default consumer and import cost ------------------------------------------------------


def test_refresh_timeout_is_shorter_than_botocores_whole_retry_budget(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    consumer = BlueGreenConsumer(PREFIX, environ={})
    config = consumer.client.meta.config
    budget = (config.connect_timeout + config.read_timeout) * config.retries["total_max_attempts"]
    assert consumer.refresh_timeout == 5.0 < budget


def test_importing_the_layer_loads_neither_boto3_nor_pymysql_nor_sqlalchemy():
    code = (
        "import sys, bluegreen_db, bluegreen_db.consumer;"
        "c = bluegreen_db.BlueGreenConsumer('/db/x');"
        "print(sorted(m for m in ('boto3', 'botocore', 'pymysql', 'sqlalchemy', 'aiomysql', 'django', 'ssl')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=LAYER_PYTHON
    ).stdout
    assert out.strip() == "[]"


def test_the_public_names_are_where_they_were():
    for name in bluegreen_db.__all__:
        assert getattr(bluegreen_db, name) is not None
    assert bluegreen_db.BlueGreenConsumer is BlueGreenConsumer
    assert set(consumer_module.__all__) <= set(dir(consumer_module))


def test_default_consumer_is_one_per_process(monkeypatch):
    monkeypatch.setattr(consumer_module, "_default", None)
    monkeypatch.setenv("PARAMETER_PREFIX", "/db/dflt")
    a = consumer_module.default_consumer()
    assert a is consumer_module.default_consumer()
    assert a.names.prefix == "/db/dflt"


def test_the_lambda_layer_bundles_no_django_code():
    """template.yaml zips layer/ as is: the Django backend lives in django_backend/, outside it."""
    layer = LAYER_PYTHON.parent
    imports = re.compile(r"^\s*(import|from)\s+(django|bluegreen_db_django)\b", re.MULTILINE)
    offenders = [str(p.relative_to(layer)) for p in layer.rglob("*.py") if imports.search(p.read_text())]
    assert not (layer / "python" / "bluegreen_db_django").exists()
    assert offenders == []
