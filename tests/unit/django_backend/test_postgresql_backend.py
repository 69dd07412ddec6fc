"""The Django backend with PostgreSQL URLs, with plain fakes: the URL's scheme picks Django's
PostgreSQL backend, its connect arguments come from the snapshot with libpq's TLS options and a
bounded timeout, a refused password (28P01) refreshes and retries once, and a downgrading ``sslmode``
or Django's pool is refused. No Django settings are configured: wrappers are built from dicts."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

pytest.importorskip("django")

from django.core.exceptions import ImproperlyConfigured

from bluegreen_db.dburl import build_url
from bluegreen_db.errors import TlsError, UnsupportedSchemeError
from bluegreen_db_django import base, follow, mysql, postgresql
from tests.unit.django_backend.test_backend import settings_dict
from tests.unit.layer.fakes import BLUE_PW, GREEN_PW, PREFIX, make


def pg_parameters(
    flag: str = "blue", blue_pw: str = BLUE_PW, scheme: str = "postgresql+psycopg"
) -> dict[str, str]:
    values = {f"{PREFIX}/blue-green-env": flag}
    for color, user, pw in (("blue", "app", blue_pw), ("green", "app_green", GREEN_PW)):
        for role, host in (("writer", "writer.example"), ("reader", "reader.example")):
            values[f"{PREFIX}/{color}/{role}-db-url"] = build_url(scheme, user, pw, host, 5432, "appdb")
    return values


class FakePgConn:
    ssl_in_use = True


class FakeConnection:
    """Just what Django's PostgreSQL wrapper touches right after connecting."""

    def __init__(self, kwargs: dict[str, Any], ssl_in_use: bool = True) -> None:
        self.kwargs = kwargs
        self.pgconn = FakePgConn()
        self.pgconn.ssl_in_use = ssl_in_use
        self.closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture(autouse=True)
def django_params(monkeypatch: pytest.MonkeyPatch) -> None:
    """Django's own ``get_connection_params`` reads settings (``USE_TZ``), which unit tests do not
    configure: this stand-in keeps its shape (and its refusal of an empty ``NAME``)."""

    def get_connection_params(self: Any) -> dict[str, Any]:
        if not self.settings_dict["NAME"]:
            raise ImproperlyConfigured("Please supply the NAME or OPTIONS['service'] value.")
        return {
            "dbname": self.settings_dict["NAME"],
            **self.settings_dict["OPTIONS"],
            "cursor_factory": object,
        }

    monkeypatch.setattr(postgresql.PostgreSQLDatabaseWrapper, "get_connection_params", get_connection_params)


def pg_wrapper(consumer: Any, **settings: Any) -> postgresql.DatabaseWrapper:
    wrapper = postgresql.DatabaseWrapper({**settings_dict(), **settings}, alias="unit-pg")
    wrapper._bluegreen_consumer = consumer
    return wrapper


def test_the_urls_scheme_picks_the_wrapper(monkeypatch):
    for scheme, expected in (
        ("postgresql+psycopg", postgresql.DatabaseWrapper),
        ("postgres", postgresql.DatabaseWrapper),
        ("mysql+pymysql", mysql.DatabaseWrapper),
        ("mariadb+pymysql", mysql.DatabaseWrapper),
    ):
        assert base.wrapper_class(scheme) is expected
    with pytest.raises(UnsupportedSchemeError, match="oracle"):
        base.wrapper_class("oracle+cx")
    consumer, _, _ = make(pg_parameters())
    monkeypatch.setattr(base, "consumer_for", lambda options: consumer)
    wrapper = base.DatabaseWrapper(settings_dict(), alias="unit")
    assert isinstance(wrapper, postgresql.DatabaseWrapper)
    assert isinstance(wrapper, follow.FlagFollowingWrapper)
    assert wrapper.vendor == "postgresql"


def test_connection_params_come_from_the_snapshot_with_libpqs_tls_and_a_bounded_timeout():
    consumer, _, _ = make(pg_parameters(), tls_mode="verify-full")
    params = pg_wrapper(consumer, BLUEGREEN={"role": "reader"}).get_connection_params()
    assert (params["user"], params["password"], params["host"], params["port"], params["dbname"]) == (
        "app",
        BLUE_PW,
        "reader.example",
        5432,
        "appdb",
    )
    assert (params["sslmode"], params["sslrootcert"], params["connect_timeout"]) == (
        "verify-full",
        "system",
        5,
    )
    assert params["cursor_factory"] is object  # Django's own arguments are kept


def test_name_overrides_the_database_and_own_sslmode_replaces_the_settings_but_never_downgrades():
    consumer, _, _ = make(pg_parameters(), tls_mode="verify-full")
    params = pg_wrapper(consumer, NAME="other_db", OPTIONS={"sslmode": "require"}).get_connection_params()
    assert (params["dbname"], params["sslmode"]) == ("other_db", "require")
    assert "sslrootcert" not in params
    for options in ({"sslmode": "prefer"}, {"sslrootcert": "/ca.pem"}):  # no sslmode is libpq's prefer
        with pytest.raises(ValueError, match="falls back to plaintext"):
            pg_wrapper(consumer, OPTIONS=options).get_connection_params()


def test_djangos_pool_is_refused():
    with pytest.raises(ImproperlyConfigured, match="pool"):
        postgresql.DatabaseWrapper({**settings_dict(), "OPTIONS": {"pool": True}}, alias="unit-pg")


def test_a_refused_password_refreshes_and_retries_with_the_new_credentials(monkeypatch):
    consumer, ssm, _ = make(pg_parameters(), ttl=3600)
    wrapper = pg_wrapper(consumer)
    params = wrapper.get_connection_params()
    ssm.values.update(pg_parameters(blue_pw="rotated-pw"))
    attempts: list[str] = []

    def fake_connect(**kwargs: Any) -> FakeConnection:
        attempts.append(kwargs["password"])
        if kwargs["password"] != "rotated-pw":
            raise psycopg.OperationalError('FATAL:  password authentication failed for user "app"')
        return FakeConnection(kwargs, ssl_in_use=False)

    monkeypatch.setattr(psycopg, "connect", fake_connect)
    conn = wrapper.get_new_connection(params)
    assert attempts == [BLUE_PW, "rotated-pw"]
    assert conn.kwargs["sslmode"] == "disable"  # the fakes' TLS mode
    assert len(ssm.calls) == 2
    assert wrapper._bluegreen_color == "blue"


def test_other_errors_are_not_retried_and_plaintext_is_refused(monkeypatch):
    consumer, ssm, _ = make(pg_parameters(), ttl=3600, tls_mode="require")
    wrapper = pg_wrapper(consumer)
    params = wrapper.get_connection_params()

    def refused(**kwargs: Any) -> FakeConnection:
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(psycopg, "connect", refused)
    with pytest.raises(psycopg.OperationalError):
        wrapper.get_new_connection(params)
    assert len(ssm.calls) == 1

    plain = FakeConnection({}, ssl_in_use=False)
    monkeypatch.setattr(psycopg, "connect", lambda **kwargs: plain)
    with pytest.raises(TlsError, match="refusing plaintext"):
        wrapper.get_new_connection(params)
    assert plain.closed
