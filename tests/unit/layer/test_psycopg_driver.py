"""The PostgreSQL drivers (psycopg 3, sync and asyncio) with plain fakes: registry and lazy loading,
libpq ``sslmode`` per TLS mode, URL and caller options, a bounded connect, the plaintext refusal and
which errors are refused logins."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import psycopg
import pytest

from bluegreen_db import drivers
from bluegreen_db.dburl import build_url, parse_url
from bluegreen_db.drivers import psycopg as pg_driver
from bluegreen_db.drivers import psycopg_async as pg_async_driver
from bluegreen_db.errors import TlsError
from bluegreen_db.tls import TlsSettings
from tests.unit.layer.fakes import BLUE_PW

URL = parse_url(build_url("postgresql+psycopg", "app", BLUE_PW, "writer.example", 5432, "appdb"))


# -- registry and loading ----------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "postgresql", "postgres"])
def test_postgresql_schemes_get_psycopg_sync_and_async(scheme):
    assert drivers.driver_for(scheme) is pg_driver
    assert drivers.async_driver_for(scheme) is pg_async_driver
    assert drivers.sqlalchemy_drivername(scheme) == "postgresql+psycopg"
    assert pg_async_driver.SQLALCHEMY_DRIVERNAME == "postgresql+psycopg"  # SQLAlchemy picks its async twin


def test_a_scheme_naming_its_driver_is_its_own_sqlalchemy_drivername():
    assert drivers.sqlalchemy_drivername("mysql+pymysql") == "mysql+pymysql"
    assert drivers.sqlalchemy_drivername("mariadb+pymysql") == "mariadb+pymysql"
    assert drivers.sqlalchemy_drivername("oracle") == "oracle"  # unknown: SQLAlchemy judges
    assert "postgresql+psycopg_async" in drivers.supported_schemes(asynchronous=True)


def test_psycopg_is_imported_only_once_a_postgresql_url_is_used():
    code = (
        "import sys, bluegreen_db, bluegreen_db.consumer, bluegreen_db.drivers as d\n"
        "d.driver_for('mysql+pymysql')\n"
        "assert 'psycopg' not in sys.modules, 'loaded by the layer or a MySQL URL'\n"
        "d.driver_for('postgresql+psycopg').tls_params(__import__('bluegreen_db.tls').tls.TlsSettings('disable'))\n"
        "assert 'psycopg' not in sys.modules, 'loaded before a connect'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_a_postgresql_url_without_a_port_gets_5432_and_its_tls_options_parse():
    url = parse_url("postgres://app:pw@db.example/appdb?sslmode=verify-ca&sslrootcert=/ca.pem")
    assert (url.port, url.tls_mode, url.tls_ca_file) == (5432, "verify-ca", "/ca.pem")
    assert parse_url("mysql+pymysql://app:pw@db.example/appdb").port == 3306


@pytest.mark.parametrize("option", ["application_name=x", "sslcert=/c.pem", "options=-csearch_path%3Dx"])
def test_any_other_url_option_is_refused_by_name(option):
    key = option.split("=", 1)[0]
    with pytest.raises(ValueError, match=f"'{key}'") as err:
        parse_url(build_url("postgresql+psycopg", "app", BLUE_PW, "db", 5432, "appdb") + f"?{option}")
    assert BLUE_PW not in str(err.value)


# -- TLS ---------------------------------------------------------------------------------------


def test_sslmode_per_tls_mode_never_prefer_or_allow():
    assert pg_driver.tls_params(TlsSettings("disable")) == {"sslmode": "disable"}
    assert pg_driver.tls_params(TlsSettings("require")) == {
        "sslmode": "require",
        "ssl_min_protocol_version": "TLSv1.2",
    }
    assert pg_driver.tls_params(TlsSettings("verify-full"))["sslrootcert"] == "system"
    with_ca = pg_driver.tls_params(TlsSettings("verify-ca", "/ca.pem"))
    assert (with_ca["sslmode"], with_ca["sslrootcert"]) == ("verify-ca", "/ca.pem")
    assert (
        pg_driver.tls_params(TlsSettings("verify-ca"))["sslrootcert"] != "system"
    )  # libpq: verify-full only
    assert pg_driver.tls_params(TlsSettings("require", "/ca.pem")).get("sslrootcert") is None


def test_connect_params_carry_the_urls_credentials_the_tls_and_a_bounded_timeout():
    params = pg_driver.connect_params(URL, TlsSettings("verify-full", "/ca.pem"), {})
    assert params == {
        "host": "writer.example",
        "port": 5432,
        "user": "app",
        "password": BLUE_PW,
        "dbname": "appdb",
        "sslmode": "verify-full",
        "sslrootcert": "/ca.pem",
        "ssl_min_protocol_version": "TLSv1.2",
        "connect_timeout": 5,
    }


def test_a_callers_options_apply_over_the_settings_but_never_a_downgrade():
    own = pg_driver.connect_params(
        URL, TlsSettings("verify-full"), {"sslmode": "require", "connect_timeout": 1.2}
    )
    assert (own["sslmode"], own["connect_timeout"]) == ("require", 2)  # libpq takes whole seconds
    for mode in ("prefer", "allow", "PREFER"):
        with pytest.raises(ValueError, match="falls back to plaintext"):
            pg_driver.connect_params(URL, TlsSettings("require"), {"sslmode": mode})
    for timeout in (0, -1, None, "soon", float("inf")):
        with pytest.raises(ValueError, match="connect_timeout"):
            pg_driver.connect_params(URL, TlsSettings("require"), {"connect_timeout": timeout})


class FakePgConn:
    def __init__(self, ssl_in_use: bool) -> None:
        self.ssl_in_use = ssl_in_use


class FakeConnection:
    def __init__(self, ssl_in_use: bool) -> None:
        self.pgconn = FakePgConn(ssl_in_use)
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_connect_refuses_and_closes_a_connection_left_unencrypted(monkeypatch):
    seen: list[dict[str, Any]] = []
    plain = FakeConnection(ssl_in_use=False)
    monkeypatch.setattr(psycopg, "connect", lambda **kw: seen.append(kw) or plain)
    with pytest.raises(TlsError, match="refusing plaintext") as err:
        pg_driver.connect(URL, TlsSettings("require"))
    assert plain.closed
    assert BLUE_PW not in str(err.value)
    assert pg_driver.connect(URL, TlsSettings("disable")) is plain  # disable asks for no TLS
    assert seen[-1]["sslmode"] == "disable"
    encrypted = FakeConnection(ssl_in_use=True)
    monkeypatch.setattr(psycopg, "connect", lambda **kw: encrypted)
    assert pg_driver.connect(URL, TlsSettings("verify-full")) is encrypted


def test_ensure_encrypted_follows_the_sslmode_the_connection_was_opened_with():
    conn = FakeConnection(ssl_in_use=False)
    pg_driver.ensure_encrypted(conn, TlsSettings("require"), "db:5432", "disable")  # the caller's choice
    assert not conn.closed
    with pytest.raises(TlsError):
        pg_driver.ensure_encrypted(conn, TlsSettings("disable"), "db:5432", "require")
    assert conn.closed


class FakeAsyncConnection(FakeConnection):
    async def close(self) -> None:  # type: ignore[override]
        self.closed = True


def test_the_async_connect_is_checked_and_bounded(monkeypatch):
    seen: list[dict[str, Any]] = []
    plain = FakeAsyncConnection(ssl_in_use=False)

    async def fake_connect(*args: Any, **kwargs: Any) -> FakeAsyncConnection:
        seen.append(kwargs)
        return plain

    monkeypatch.setattr(psycopg.AsyncConnection, "connect", fake_connect)
    with pytest.raises(TlsError, match="refusing plaintext"):
        asyncio.run(pg_async_driver.connect(URL, TlsSettings("require")))
    assert plain.closed and seen[0]["connect_timeout"] == 5 and seen[0]["password"] == BLUE_PW
    # SQLAlchemy's dialect calls the factory with its own arguments: no sslmode is libpq's prefer.
    with pytest.raises(ValueError, match="falls back to plaintext"):
        asyncio.run(pg_async_driver.checked_connect(host="db", dbname="appdb"))
    params = pg_async_driver.sqlalchemy_params(TlsSettings("verify-full", "/ca.pem"))
    assert params["async_creator_fn"] is pg_async_driver.checked_connect
    assert (params["sslmode"], params["sslrootcert"]) == ("verify-full", "/ca.pem")
    assert asyncio.run(pg_async_driver.checked_connect(host="db", sslmode="disable")) is plain


# -- refused logins ----------------------------------------------------------------------------


def test_is_login_denied_is_28p01_or_a_missing_role():
    for driver in (pg_driver, pg_async_driver):
        assert driver.is_login_denied(psycopg.errors.InvalidPassword("password authentication failed"))
        assert driver.is_login_denied(
            psycopg.errors.InvalidAuthorizationSpecification('role "app_green" does not exist')
        )
        assert not driver.is_login_denied(
            psycopg.errors.InvalidAuthorizationSpecification('no pg_hba.conf entry for host "10.0.0.1"')
        )
        # libpq's connect failures carry no SQLSTATE: the server's message decides.
        assert driver.is_login_denied(
            psycopg.OperationalError(
                'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
                'FATAL:  password authentication failed for user "app"'
            )
        )
        assert not driver.is_login_denied(psycopg.OperationalError("connection refused"))
        assert not driver.is_login_denied(psycopg.errors.InsufficientPrivilege("permission denied"))
        assert not driver.is_login_denied(RuntimeError("password authentication failed for user"))
