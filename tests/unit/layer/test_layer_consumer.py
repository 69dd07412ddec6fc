"""Pure logic of the consumer with plain fakes: one call, TTL, coalescing, errors, redaction."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pymysql
import pytest

from bluegreen_db import consumer as consumer_module
from bluegreen_db.consumer import (
    DEFAULT_TTL_SECONDS,
    BlueGreenConsumer,
    ParameterInvalidError,
    ParameterMissingError,
    is_access_denied,
    resolve_retry_mode,
    resolve_ttl,
)
from bluegreen_db.dburl import build_url

PREFIX = "/db/unit"
BLUE_PW = "blue-S3cret/with:odd@chars%"
GREEN_PW = "green-S3cret#?&"
LAYER_PYTHON = Path(__file__).resolve().parents[3] / "layer" / "python"


def url(user: str, password: str, host: str = "writer.example") -> str:
    return build_url("mysql+pymysql", user, password, host, 3306, "appdb")


def parameters(flag: str = "blue", blue_pw: str = BLUE_PW, green_pw: str | None = GREEN_PW) -> dict[str, str]:
    values = {
        f"{PREFIX}/blue-green-env": flag,
        f"{PREFIX}/blue/writer-db-url": url("app", blue_pw),
        f"{PREFIX}/blue/reader-db-url": url("app", blue_pw, "reader.example"),
    }
    if green_pw is not None:
        values[f"{PREFIX}/green/writer-db-url"] = url("app_green", green_pw)
        values[f"{PREFIX}/green/reader-db-url"] = url("app_green", green_pw, "reader.example")
    return values


class FakeSSM:
    """Just enough of an SSM client: GetParameters over a dict, recording every call."""

    def __init__(self, values: dict[str, str], delay: float = 0.0) -> None:
        self.values = values
        self.delay = delay
        self.calls: list[dict[str, object]] = []
        self._lock = threading.Lock()

    def get_parameters(self, *, Names: list[str], WithDecryption: bool = False) -> dict[str, object]:  # noqa: N803
        with self._lock:
            self.calls.append({"Names": list(Names), "WithDecryption": WithDecryption})
        if self.delay:
            time.sleep(self.delay)
        found = [
            {"Name": n, "Value": self.values[n], "Type": "SecureString"} for n in Names if n in self.values
        ]
        return {"Parameters": found, "InvalidParameters": [n for n in Names if n not in self.values]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(
    values: dict[str, str] | None = None, ttl: float | None = 60, **kwargs
) -> tuple[BlueGreenConsumer, FakeSSM, Clock]:
    ssm = FakeSSM(parameters() if values is None else values)
    clock = Clock()
    kwargs.setdefault("tls_mode", "disable")  # the fake connections below have no socket to check
    consumer = BlueGreenConsumer(PREFIX, ttl=ttl, client=ssm, clock=clock, environ={}, **kwargs)  # type: ignore[arg-type]
    return consumer, ssm, clock


# -- one call ----------------------------------------------------------------------------------


def test_one_get_parameters_call_for_the_flag_and_four_urls():
    consumer, ssm, _ = make()
    snap = consumer.current()
    assert ssm.calls == [
        {
            "Names": [
                f"{PREFIX}/blue-green-env",
                f"{PREFIX}/blue/writer-db-url",
                f"{PREFIX}/blue/reader-db-url",
                f"{PREFIX}/green/writer-db-url",
                f"{PREFIX}/green/reader-db-url",
            ],
            "WithDecryption": True,
        }
    ]
    assert snap.color == "blue"
    assert snap.url("writer").password == BLUE_PW
    assert snap.url("reader").host == "reader.example"
    assert snap.url("writer", "green").username == "app_green"
    assert consumer.refreshes == consumer.parameter_calls == 1


def test_construction_does_no_io():
    _, ssm, _ = make()
    assert ssm.calls == []


# -- TTL ---------------------------------------------------------------------------------------


def test_served_from_cache_within_ttl_then_refreshed():
    consumer, ssm, clock = make(ttl=60)
    for _ in range(100):
        consumer.current()
        consumer.url("reader")
    assert len(ssm.calls) == 1
    ssm.values.update(parameters(flag="green"))
    clock.now += 59.9
    assert consumer.color == "blue"
    clock.now += 0.2
    assert consumer.color == "green"
    assert len(ssm.calls) == 2


def test_ttl_zero_fetches_every_time():
    consumer, ssm, _ = make(ttl=0)
    consumer.current()
    consumer.current()
    assert len(ssm.calls) == 2


def test_ttl_resolution_argument_beats_environment_beats_default():
    assert resolve_ttl(None, {}) == DEFAULT_TTL_SECONDS == 60
    assert resolve_ttl(None, {"BLUEGREEN_CACHE_TTL": "15"}) == 15
    assert resolve_ttl(5, {"BLUEGREEN_CACHE_TTL": "15"}) == 5
    assert resolve_ttl(None, {"BLUEGREEN_CACHE_TTL": " "}) == 60
    consumer = BlueGreenConsumer(PREFIX, environ={"BLUEGREEN_CACHE_TTL": "2.5"})
    assert consumer.ttl == 2.5


@pytest.mark.parametrize("raw", ["abc", "-1", "nan", "inf"])
def test_bad_ttl_is_rejected_naming_the_variable(raw):
    with pytest.raises(ValueError, match="BLUEGREEN_CACHE_TTL"):
        resolve_ttl(None, {"BLUEGREEN_CACHE_TTL": raw})


def test_prefix_comes_from_environment_like_the_rotation():
    assert BlueGreenConsumer(environ={"ENV": "prod"}).names.flag == "/db/prod/blue-green-env"
    assert BlueGreenConsumer(environ={"PARAMETER_PREFIX": "/x/y"}).names.flag == "/x/y/blue-green-env"
    assert BlueGreenConsumer("/a", environ={"PARAMETER_PREFIX": "/x"}).names.prefix == "/a"


# -- thread safety -----------------------------------------------------------------------------


def test_first_load_by_many_threads_costs_one_call():
    consumer, ssm, _ = make()
    ssm.delay = 0.05
    barrier = threading.Barrier(16)
    colors: list[str] = []

    def read() -> None:
        barrier.wait()
        colors.append(consumer.current().color)

    threads = [threading.Thread(target=read) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert colors == ["blue"] * 16
    assert len(ssm.calls) == 1


def test_expiry_one_thread_refreshes_others_serve_the_just_expired_snapshot():
    consumer, ssm, clock = make(ttl=10)
    first = consumer.current()
    ssm.delay = 0.3
    clock.now += 11  # expired, but less than two TTLs old
    refresher = threading.Thread(target=consumer.current)
    refresher.start()
    time.sleep(0.05)  # the refresher now holds the lock inside the slow call
    started = time.monotonic()
    assert consumer.current() is first  # not blocked behind the call
    assert time.monotonic() - started < 0.2
    refresher.join()
    assert consumer.current().generation == 2
    assert len(ssm.calls) == 2


def test_long_expired_snapshot_waits_for_the_refresh():
    consumer, ssm, clock = make(ttl=10)
    consumer.current()
    clock.now += 25  # older than two TTLs: never served without a refresh
    ssm.values.update(parameters(flag="green"))
    assert consumer.current().color == "green"


def test_forced_refresh_is_coalesced_per_snapshot():
    consumer, ssm, _ = make()
    stale = consumer.current()
    fresh = consumer.refresh(stale=stale)
    assert fresh is not stale
    assert consumer.refresh(stale=stale) is fresh  # someone already replaced it: no new call
    assert len(ssm.calls) == 2
    consumer.refresh()
    assert len(ssm.calls) == 3


# -- errors ------------------------------------------------------------------------------------


def test_missing_flag_names_it():
    values = parameters()
    del values[f"{PREFIX}/blue-green-env"]
    consumer, _, _ = make(values)
    with pytest.raises(ParameterMissingError) as err:
        consumer.current()
    assert err.value.names == [f"{PREFIX}/blue-green-env"]
    assert f"{PREFIX}/blue-green-env" in str(err.value)
    assert "PARAMETER_PREFIX" in str(err.value)


def test_missing_url_of_the_flags_color_names_it():
    values = parameters(flag="green")
    del values[f"{PREFIX}/green/reader-db-url"]
    consumer, _, _ = make(values)
    with pytest.raises(ParameterMissingError, match=f"{PREFIX}/green/reader-db-url"):
        consumer.current()


def test_other_color_may_be_missing_before_the_first_rotation():
    consumer, _, _ = make(parameters(flag="blue", green_pw=None))
    snap = consumer.current()
    assert snap.url().username == "app"
    with pytest.raises(ParameterMissingError, match=f"{PREFIX}/green/writer-db-url"):
        snap.url("writer", "green")


def test_invalid_flag_names_the_parameter():
    values = parameters()
    values[f"{PREFIX}/blue-green-env"] = "purple"
    consumer, _, _ = make(values)
    with pytest.raises(ParameterInvalidError, match=f"{PREFIX}/blue-green-env.*purple"):
        consumer.current()


def test_malformed_url_error_names_the_parameter_not_the_password():
    values = parameters()
    values[f"{PREFIX}/blue/writer-db-url"] = "mysql+pymysql://app-no-password-sep-" + BLUE_PW + "@"
    consumer, _, _ = make(values)
    with pytest.raises(ParameterInvalidError) as err:
        consumer.current()
    assert f"{PREFIX}/blue/writer-db-url" in str(err.value)
    assert BLUE_PW not in str(err.value)
    assert err.value.__cause__ is None
    assert err.value.__suppress_context__


def test_bad_role_is_rejected():
    consumer, _, _ = make()
    with pytest.raises(ValueError, match="role"):
        consumer.url("admin")  # type: ignore[arg-type]


# -- redaction ---------------------------------------------------------------------------------


def test_reprs_never_show_a_password():
    consumer, _, _ = make()
    snap = consumer.current()
    for text in (repr(consumer), str(consumer), repr(snap), str(snap), repr(snap.url()), str(snap.urls)):
        assert BLUE_PW not in text
        assert GREEN_PW not in text
        assert "blue-S3cret" not in text
    assert "***" in repr(snap)
    assert snap.url().password == BLUE_PW  # the value itself is intact
    assert consumer.db_url("writer") == url("app", BLUE_PW)


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
    assert consumer.connect() == ("connection", "app_green")  # type: ignore[comparison-overlap]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "moved from blue to green" in text
    assert "access denied" in text
    for secret in (BLUE_PW, GREEN_PW, "green-NEW-pw"):
        assert secret not in text


# -- the 1045 path -----------------------------------------------------------------------------


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
    assert consumer.connect("writer", read_timeout=3) == "ok"  # type: ignore[comparison-overlap]
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


def test_is_access_denied():
    assert is_access_denied(pymysql.err.OperationalError(1045, "x"))
    assert not is_access_denied(pymysql.err.OperationalError(1044, "x"))
    assert not is_access_denied(RuntimeError())


# -- botocore retries and lazy import ----------------------------------------------------------


def test_client_uses_botocore_standard_retries_by_default(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    consumer = BlueGreenConsumer(PREFIX)
    client = consumer.client
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert consumer.client is client  # created once


def test_adaptive_retries_by_argument_or_environment(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert BlueGreenConsumer(PREFIX, retry_mode="adaptive").client.meta.config.retries["mode"] == "adaptive"
    assert resolve_retry_mode(None, {"AWS_RETRY_MODE": "adaptive"}) == "adaptive"
    with pytest.raises(ValueError, match="legacy"):
        resolve_retry_mode("legacy", {})


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


def test_default_consumer_is_one_per_process(monkeypatch):
    monkeypatch.setattr(consumer_module, "_default", None)
    monkeypatch.setenv("PARAMETER_PREFIX", "/db/dflt")
    a = consumer_module.default_consumer()
    assert a is consumer_module.default_consumer()
    assert a.names.prefix == "/db/dflt"


# -- Parameter Store outages -------------------------------------------------------------------


class OutageError(Exception):
    pass


def test_refresh_failure_serves_the_stale_snapshot_then_backs_off(caplog):
    caplog.set_level(logging.WARNING, logger="bluegreen_db")
    consumer, ssm, clock = make(ttl=60)
    first = consumer.current()
    broken_calls = []

    def broken(**kwargs):
        broken_calls.append(kwargs)
        raise OutageError("endpoint unreachable")

    ssm.get_parameters = broken  # type: ignore[method-assign]
    clock.now += 61
    assert consumer.current() is first
    assert "could not refresh" in caplog.text and "OutageError" in caplog.text
    clock.now += 1
    assert consumer.current() is first
    assert len(broken_calls) == 1  # backed off: no call for min(ttl, 5) seconds
    clock.now += 5
    assert consumer.current() is first  # still failing: retried in the background, not waited for
    deadline = time.monotonic() + 5
    while len(broken_calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(broken_calls) == 2
    while consumer._flight is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    clock.now += 300  # past ttl + stale_if_error: the outage surfaces
    with pytest.raises(OutageError):
        consumer.current()


def test_refresh_failure_without_a_snapshot_or_with_stale_disabled_raises():
    consumer, ssm, clock = make(stale_if_error=0)

    def broken(**kwargs):
        raise OutageError("down")

    consumer.current()
    ssm.get_parameters = broken  # type: ignore[method-assign]
    clock.now += 61
    with pytest.raises(OutageError):
        consumer.current()
    fresh, ssm2, _ = make()
    ssm2.get_parameters = broken  # type: ignore[method-assign]
    with pytest.raises(OutageError):
        fresh.current()


def test_configuration_errors_are_never_hidden_by_a_stale_snapshot():
    consumer, ssm, clock = make()
    consumer.current()
    del ssm.values[f"{PREFIX}/blue-green-env"]
    clock.now += 61
    with pytest.raises(ParameterMissingError):
        consumer.current()


def test_the_lambda_layer_bundles_no_django_code():
    """template.yaml zips layer/ as is: the Django backend lives in server/, outside it."""
    layer = LAYER_PYTHON.parent
    imports = re.compile(r"^\s*(import|from)\s+(django|bluegreen_db_django)\b", re.MULTILINE)
    offenders = [str(p.relative_to(layer)) for p in layer.rglob("*.py") if imports.search(p.read_text())]
    assert not (layer / "python" / "bluegreen_db_django").exists()
    assert offenders == []


# -- bounded waits and rate-limited forced refreshes -------------------------------------------


def test_refresh_timeout_is_shorter_than_botocores_whole_retry_budget(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    consumer = BlueGreenConsumer(PREFIX, environ={})
    config = consumer.client.meta.config
    budget = (config.connect_timeout + config.read_timeout) * config.retries["total_max_attempts"]
    assert consumer.refresh_timeout == consumer_module.DEFAULT_REFRESH_TIMEOUT == 5.0
    assert consumer.refresh_timeout < budget
    assert BlueGreenConsumer(PREFIX, environ={"BLUEGREEN_REFRESH_TIMEOUT": "2.5"}).refresh_timeout == 2.5
    with pytest.raises(ValueError, match="refresh_timeout"):
        BlueGreenConsumer(PREFIX, environ={}, refresh_timeout=0)


def test_forced_refreshes_once_per_snapshot_and_at_most_once_per_interval():
    consumer, ssm, clock = make(ttl=3600, forced_refresh_interval=5)
    first = consumer.current()
    second = consumer.refresh_after_denied(first)
    assert second.generation == 2 and len(ssm.calls) == 2
    assert consumer.refresh_after_denied(first) is second  # already replaced: no call
    assert consumer.refresh_after_denied(second) is second  # within the interval: no call
    assert len(ssm.calls) == 2
    clock.now += 5
    third = consumer.refresh_after_denied(second)
    assert third.generation == 3 and len(ssm.calls) == 3
    clock.now += 60
    assert consumer.refresh_after_denied(second) is third  # once per snapshot, whatever the interval
    assert len(ssm.calls) == 3


def test_a_slow_refresh_never_holds_callers_past_the_refresh_timeout():
    consumer, ssm, clock = make(ttl=10, refresh_timeout=0.2)
    first = consumer.current()
    ssm.delay = 2.0
    clock.now += 11
    started = time.monotonic()
    assert consumer.current() is first  # the refresher gives up at the timeout, serving the stale one
    assert time.monotonic() - started < 1.5
    assert consumer.current() is first  # backing off (and the call is still in flight): at once
    assert len(ssm.calls) == 2
