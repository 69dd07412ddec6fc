"""The drivers: chosen by the URL's scheme, each saying whether a login was refused, each giving TLS
to its driver and refusing plaintext."""

from __future__ import annotations

import asyncio
import re
import ssl
from pathlib import Path

import pymysql
import pytest

from bluegreen_db import drivers
from bluegreen_db.dburl import parse_url
from bluegreen_db.drivers import aiomysql as aiomysql_driver
from bluegreen_db.drivers import pymysql as pymysql_driver
from bluegreen_db.errors import BlueGreenError, TlsError, UnsupportedSchemeError
from bluegreen_db.tls import TlsSettings
from tests.unit.layer.fakes import BLUE_PW, url

LAYER_PACKAGE = Path(__file__).resolve().parents[3] / "layer" / "python" / "bluegreen_db"
URL = parse_url(url("app", BLUE_PW))


# -- the registry ------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["mysql+pymysql", "mariadb+pymysql"])
def test_mysql_schemes_get_pymysql_and_aiomysql(scheme):
    assert drivers.driver_for(scheme) is pymysql_driver
    assert drivers.async_driver_for(scheme) is aiomysql_driver


def test_a_url_is_looked_up_by_its_scheme():
    assert drivers.driver_for(URL) is pymysql_driver
    assert drivers.async_driver_for(URL) is aiomysql_driver


def test_an_unknown_scheme_is_a_typed_error_naming_the_supported_ones():
    with pytest.raises(UnsupportedSchemeError) as err:
        drivers.driver_for("oracle+cx")
    assert isinstance(err.value, BlueGreenError) and isinstance(err.value, ValueError)
    assert err.value.scheme == "oracle+cx"
    assert "'oracle+cx'" in str(err.value) and "mysql+pymysql" in str(err.value)
    assert err.value.supported == drivers.supported_schemes()
    with pytest.raises(UnsupportedSchemeError, match="mysql\\+aiomysql"):
        drivers.async_driver_for("oracle+cx")


def test_the_sqlalchemy_drivername_of_each_driver():
    assert pymysql_driver.SQLALCHEMY_DRIVERNAME == "mysql+pymysql"
    assert aiomysql_driver.SQLALCHEMY_DRIVERNAME == "mysql+aiomysql"


# -- refused logins ----------------------------------------------------------------------------


def test_is_login_denied_is_mysqls_1045_only():
    for driver in (pymysql_driver, aiomysql_driver):
        assert driver.is_login_denied(pymysql.err.OperationalError(1045, "Access denied"))
        assert not driver.is_login_denied(pymysql.err.OperationalError(1044, "no database"))
        assert not driver.is_login_denied(pymysql.err.OperationalError(2003, "Can't connect"))
        assert not driver.is_login_denied(RuntimeError())


def test_outside_drivers_no_module_of_the_layer_names_a_driver_package_or_its_error_code():
    """The next engine adds a driver module; nothing else in the layer learns its name or codes."""
    names = re.compile(
        r"^\s*(import|from)\s+(pymysql|aiomysql|psycopg|MySQLdb)\b|\b1045\b|\b28P01\b", re.MULTILINE
    )
    offenders = [
        str(p.relative_to(LAYER_PACKAGE))
        for p in LAYER_PACKAGE.rglob("*.py")
        if "drivers" not in p.relative_to(LAYER_PACKAGE).parts and names.search(p.read_text())
    ]
    assert offenders == []


def test_the_layer_imports_nothing_of_the_function_or_the_operator_tools():
    imports = re.compile(r"^\s*(import|from)\s+(bluegreen_rotation|bluegreen_ops|app)\b", re.MULTILINE)
    assert [p.name for p in LAYER_PACKAGE.rglob("*.py") if imports.search(p.read_text())] == []


# -- PyMySQL -----------------------------------------------------------------------------------


class TlsSocket(ssl.SSLSocket):
    def __init__(self) -> None:  # stands in for an established TLS socket
        pass


class FakeConnection:
    def __init__(self, sock: object) -> None:
        self._sock = sock
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_pymysql_connect_passes_the_urls_credentials_and_plaintext_only_when_disabled(monkeypatch):
    seen: dict[str, object] = {}
    monkeypatch.setattr(pymysql, "connect", lambda **kw: seen.update(kw) or FakeConnection(None))
    pymysql_driver.connect(URL, TlsSettings("disable"), connect_timeout=2)
    assert seen == {
        "host": "writer.example",
        "port": 3306,
        "user": "app",
        "password": BLUE_PW,
        "database": "appdb",
        "connect_timeout": 2,
        "ssl_disabled": True,
    }


def test_pymysql_connect_hands_over_the_context_and_checks_the_socket(monkeypatch):
    seen: dict[str, object] = {}
    monkeypatch.setattr(pymysql, "connect", lambda **kw: seen.update(kw) or FakeConnection(TlsSocket()))
    pymysql_driver.connect(URL, TlsSettings("require"))
    assert isinstance(seen["ssl"], ssl.SSLContext) and "ssl_disabled" not in seen

    plain = FakeConnection(object())
    monkeypatch.setattr(pymysql, "connect", lambda **kw: plain)
    with pytest.raises(TlsError, match="refusing plaintext"):
        pymysql_driver.connect(URL, TlsSettings("require"))
    assert plain.closed


def test_a_callers_own_ssl_options_replace_the_settings_and_are_not_second_guessed(monkeypatch):
    seen: dict[str, object] = {}
    monkeypatch.setattr(pymysql, "connect", lambda **kw: seen.update(kw) or FakeConnection(object()))
    pymysql_driver.connect(URL, TlsSettings("verify-full"), ssl={"ca": "/ca.pem"})
    assert seen["ssl"] == {"ca": "/ca.pem"}


def test_pymysql_tls_params_per_mode():
    assert pymysql_driver.tls_params(TlsSettings("disable")) == {"ssl_disabled": True}
    assert isinstance(pymysql_driver.tls_params(TlsSettings("require"))["ssl"], ssl.SSLContext)


def test_ensure_encrypted_refuses_a_plain_socket_unless_tls_is_disabled():
    conn = FakeConnection(object())
    with pytest.raises(TlsError, match="refusing plaintext"):
        pymysql_driver.ensure_encrypted(conn, TlsSettings("require"), "db:3306")
    assert conn.closed
    pymysql_driver.ensure_encrypted(FakeConnection(object()), TlsSettings("disable"), "db:3306")
    pymysql_driver.ensure_encrypted(FakeConnection(TlsSocket()), TlsSettings("verify-ca"), "db:3306")


# -- aiomysql ----------------------------------------------------------------------------------


def test_aiomysql_connect_gives_the_context_unless_the_caller_brings_one(monkeypatch):
    seen: list[dict[str, object]] = []

    async def fake_connect(**kwargs: object) -> str:
        seen.append(kwargs)
        return "conn"

    monkeypatch.setattr(aiomysql_driver, "tls_checked_connect", fake_connect)
    assert asyncio.run(aiomysql_driver.connect(URL, TlsSettings("require"), connect_timeout=2)) == "conn"
    assert isinstance(seen[0]["ssl"], ssl.SSLContext)
    assert (seen[0]["user"], seen[0]["password"], seen[0]["db"], seen[0]["connect_timeout"]) == (
        "app",
        BLUE_PW,
        "appdb",
        2,
    )
    asyncio.run(aiomysql_driver.connect(URL, TlsSettings("require"), ssl=None))
    assert seen[1]["ssl"] is None


def test_aiomysql_sqlalchemy_params_never_let_the_dialect_downgrade():
    params = aiomysql_driver.sqlalchemy_params(TlsSettings("require"))
    assert isinstance(params["ssl"], ssl.SSLContext)
    assert params["async_creator_fn"] is aiomysql_driver.tls_checked_connect
