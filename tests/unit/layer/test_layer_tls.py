"""Consumer TLS settings: the four modes, precedence, CA file, and TLS options in a URL."""

from __future__ import annotations

import ssl

import pymysql
import pytest

from bluegreen_db.consumer import BlueGreenConsumer
from bluegreen_db.dburl import build_url, parse_url
from bluegreen_db.errors import ParameterInvalidError
from bluegreen_db.tls import DEFAULT_TLS_MODE, TlsSettings
from tests.unit.layer.fakes import PREFIX, make, parameters

URL = build_url("mysql+pymysql", "app", "pw-Secret-1", "db.example", 3306, "app")


def test_default_is_verify_full_like_the_function():
    assert DEFAULT_TLS_MODE == "verify-full"
    settings = TlsSettings.resolve(environ={})
    ctx = settings.context()
    assert ctx is not None and ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2


def test_modes_and_their_contexts():
    assert TlsSettings.resolve("disable", environ={}).context() is None
    require = TlsSettings.resolve("require", environ={}).context()
    assert require is not None and require.verify_mode == ssl.CERT_NONE and not require.check_hostname
    verify_ca = TlsSettings.resolve("verify-ca", environ={}).context()
    assert (
        verify_ca is not None and verify_ca.verify_mode == ssl.CERT_REQUIRED and not verify_ca.check_hostname
    )


def test_explicit_beats_environment_beats_default(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    env = {"BLUEGREEN_DB_TLS_MODE": "require", "BLUEGREEN_DB_TLS_CA_FILE": str(ca)}
    assert TlsSettings.resolve(environ=env) == TlsSettings("require", str(ca))
    assert TlsSettings.resolve("verify-ca", environ=env).mode == "verify-ca"
    assert BlueGreenConsumer("/db/x", environ=env, tls_mode="disable").tls.mode == "disable"
    assert BlueGreenConsumer("/db/x", environ=env).tls.mode == "require"


def test_bad_settings_are_refused_naming_the_variable(tmp_path):
    with pytest.raises(ValueError, match="BLUEGREEN_DB_TLS_MODE"):
        TlsSettings.resolve(environ={"BLUEGREEN_DB_TLS_MODE": "prefer"})
    with pytest.raises(ValueError, match="does not exist"):
        TlsSettings.resolve(environ={"BLUEGREEN_DB_TLS_CA_FILE": str(tmp_path / "missing.pem")})


def test_url_tls_options_are_honoured_and_round_trip(tmp_path):
    ca = tmp_path / "rds.pem"
    ca.write_text("")
    url = parse_url(f"{URL}?ssl_mode=VERIFY_IDENTITY&ssl_ca={ca}")
    assert (url.tls_mode, url.tls_ca_file) == ("verify-full", str(ca))
    assert parse_url(url.render()) == url
    assert "pw-Secret-1" not in url.redacted() and "ssl_ca=" in url.redacted()
    consumer = BlueGreenConsumer("/db/x", environ={}, tls_mode="require")
    assert consumer.tls_for(url) == TlsSettings("verify-full", str(ca))  # the URL's own options win
    assert consumer.tls_for(parse_url(URL)) == TlsSettings("require", None)


@pytest.mark.parametrize(
    "query", ["charset=utf8", "ssl_cert=/c.pem", "ssl_mode=prefer", "ssl_ca=relative.pem"]
)
def test_unsupported_url_options_are_rejected_loudly(query):
    with pytest.raises(ValueError) as err:
        parse_url(f"{URL}?{query}")
    assert "pw-Secret-1" not in str(err.value)


def test_a_url_with_an_unsupported_option_in_parameter_store_names_the_parameter():
    values = parameters()
    values[f"{PREFIX}/blue/writer-db-url"] += "?sslcert=/x.pem"
    consumer, _, _ = make(values)
    with pytest.raises(ParameterInvalidError, match=f"{PREFIX}/blue/writer-db-url.*'sslcert'"):
        consumer.current()


def test_connect_hands_pymysql_the_context(monkeypatch):
    consumer, _, _ = make(tls_mode="require")
    seen = {}

    class TlsSocket(ssl.SSLSocket):
        def __init__(self) -> None:  # stands in for an established TLS socket
            pass

    class Conn:
        _sock = TlsSocket()

    def fake_connect(**kwargs):
        seen.update(kwargs)
        return Conn()

    monkeypatch.setattr(pymysql, "connect", fake_connect)
    consumer.connect()
    assert isinstance(seen["ssl"], ssl.SSLContext) and "ssl_disabled" not in seen
