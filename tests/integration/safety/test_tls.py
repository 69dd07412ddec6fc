"""TLS between the function and the database: ``DB_TLS_MODE`` and ``DB_TLS_CA_FILE``, for real.

A second MariaDB serves TLS with a CA generated for the test; its certificate names only
``localhost``, so a secret whose host is ``127.0.0.1`` is a hostname mismatch. The session's plain
MariaDB (``make_stack``) serves no TLS at all. The server's general log shows how every login came
in (``using SSL/TLS`` or ``using TCP/IP``), so "never plaintext" is checked on the server's side.

MariaDB records ``REQUIRE SSL`` as ``mysql.user.ssl_type = 'ANY'`` and ``REQUIRE X509`` as ``'X509'``.
The function has no client certificate setting, so it can never log in as a ``REQUIRE X509`` user:
for such a secret setSecret clones the requirement, and testSecret then fails safely (see the last
tests).
"""

from __future__ import annotations

import contextlib
import hashlib
import ssl
from types import SimpleNamespace
from typing import Any

import pymysql
import pytest

from app import lambda_handler
from bluegreen_ops.devstack.secrets_manager_driver import RotationDriver, RotationFailedError
from bluegreen_rotation.engines.base import Endpoint
from bluegreen_rotation.engines.mysql.connection import connect
from bluegreen_rotation.errors import DatabaseError
from bluegreen_rotation.secret import DbSecret

TLS_MODES = ("require", "verify-ca", "verify-full")


# -- helpers ---------------------------------------------------------------------------------------
def _secret(stack: Any, stage: str) -> DbSecret:
    text = stack.secretsmanager.get_secret_value(SecretId=stack.secret_arn, VersionStage=stage)[
        "SecretString"
    ]
    return DbSecret.parse(text, stage)


def _flag(stack: Any) -> str | None:
    params = stack.ssm.get_parameters(Names=[f"{stack.prefix}/blue-green-env"])["Parameters"]
    return params[0]["Value"] if params else None


def _accounts(db: Any, *users: str) -> dict[str, tuple[Any, ...]]:
    """User -> (host, password hash, ssl_type, x509 issuer, x509 subject)."""
    rows = db.execute(
        "SELECT User, Host, authentication_string, ssl_type, x509_issuer, x509_subject FROM mysql.user"
        f" WHERE User IN ({', '.join(['%s'] * len(users))})",
        users,
    )
    return {str(r[0]): tuple(_text(v) for v in r[1:]) for r in rows}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes | bytearray) else str(value)


def _unchanged_state(db: Any, stack: Any, users: tuple[str, ...]) -> tuple[Any, ...]:
    """Everything a refused rotation must leave alone: the users, AWSCURRENT and the mirror."""
    current = stack.secretsmanager.get_secret_value(SecretId=stack.secret_arn, VersionStage="AWSCURRENT")
    names = [f"{stack.prefix}/blue-green-env"] + [
        f"{stack.prefix}/{c}/{r}-db-url" for c in ("blue", "green") for r in ("writer", "reader")
    ]
    params = stack.ssm.get_parameters(Names=names, WithDecryption=True)["Parameters"]
    return (
        _accounts(db, *users),
        current["VersionId"],
        hashlib.sha256(current["SecretString"].encode()).hexdigest(),  # never a password in a diff
        sorted((p["Name"], p["Version"]) for p in params),
    )


def _tls_login(
    db: Any, user: str, password: str, ca: Any, host: str = "localhost", cert: Any = None
) -> tuple[str, str]:
    """Logs in over verified TLS (optionally with a client certificate); returns (user, cipher)."""
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        ctx.load_cert_chain(str(cert.server_cert), str(cert.server_key))
    conn = pymysql.connect(host=host, port=db.port, user=user, password=password, ssl=ctx, connect_timeout=5)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        who = str(cur.fetchone()[0]).split("@")[0]
        cur.execute("SHOW STATUS LIKE 'Ssl_cipher'")
        return who, str(cur.fetchone()[1])


def _login_error(db: Any, user: str, password: str, host: str = "127.0.0.1", **kwargs: Any) -> int | None:
    """The server's error code for a login (None when it succeeds)."""
    try:
        pymysql.connect(
            host=host, port=db.port, user=user, password=password, connect_timeout=5, **kwargs
        ).close()
    except pymysql.err.MySQLError as exc:
        return int(exc.args[0])
    return None


def _rotate(stack: Any) -> str:
    return RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1).rotate(stack.secret_arn)


def _refused(stack: Any, db: Any, users: tuple[str, str]) -> tuple[RotationDriver, BaseException]:
    """Runs a rotation that must fail, once, and changes nothing (users, secret, parameters);
    returns the driver and the error the step raised."""
    before = _unchanged_state(db, stack, users)
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    with pytest.raises(RotationFailedError) as info:
        driver.rotate(stack.secret_arn)
    assert _unchanged_state(db, stack, users) == before
    return driver, info.value.last


def _rotates_over_tls_only(stack: Any, general_log: Any, ca: Any) -> None:
    """A whole rotation succeeds, and every login the function made was over TLS."""
    with general_log(stack.db) as log:
        token = _rotate(stack)
    _assert_rotated(stack, token, ca)
    logins = log.connects(("admin", stack.username, stack.green))
    assert logins, "the general log shows no login by the function"
    assert all(line.endswith("using SSL/TLS") for line in logins), logins


def _assert_rotated(stack: Any, token: str, ca: Any) -> None:
    """Guarantee 2 on the TLS server: AWSCURRENT green on the token, flag green, both users log in."""
    current, previous = _secret(stack, "AWSCURRENT"), _secret(stack, "AWSPREVIOUS")
    versions = stack.secretsmanager.describe_secret(SecretId=stack.secret_arn)["VersionIdsToStages"]
    assert versions[token] == ["AWSCURRENT"]
    assert current.username == stack.green
    assert _flag(stack) == "green"
    for secret in (current, previous):
        who, cipher = _tls_login(stack.db, secret.username, secret.password, ca)
        assert who == secret.username
        assert cipher


# -- the session is encrypted -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "host", "which_ca"),
    [
        ("verify-full", "localhost", "right"),
        ("verify-ca", "127.0.0.1", "right"),  # the name does not match: verify-ca does not care
        ("require", "127.0.0.1", "wrong"),  # neither the CA nor the name: require only encrypts
    ],
)
def test_connect_encrypts_the_session(tls_mariadb, tls_files, other_ca, mode, host, which_ca):
    ca = tls_files.ca_cert if which_ca == "right" else other_ca.ca_cert
    endpoint = Endpoint(host, tls_mariadb.port, mode, str(ca))
    with contextlib.closing(connect(endpoint, "admin", tls_mariadb.admin_password)) as conn:
        with conn.cursor() as cur:
            cur.execute("SHOW STATUS LIKE 'Ssl_cipher'")
            cipher = cur.fetchone()[1]
            cur.execute("SHOW STATUS LIKE 'Ssl_version'")
            version = cur.fetchone()[1]
    assert cipher, "Ssl_cipher is empty: the session is not encrypted"
    assert version in ("TLSv1.2", "TLSv1.3")


def test_disable_is_plaintext_even_when_the_server_offers_tls(tls_mariadb, tls_files):
    endpoint = Endpoint("localhost", tls_mariadb.port, "disable", str(tls_files.ca_cert))
    with contextlib.closing(connect(endpoint, "admin", tls_mariadb.admin_password)) as conn:
        with conn.cursor() as cur:
            cur.execute("SHOW STATUS LIKE 'Ssl_cipher'")
            assert cur.fetchone()[1] == ""


# -- verify-full ---------------------------------------------------------------------------------------
def test_verify_full_rotates_with_the_right_ca_and_every_login_is_tls(make_tls_stack, tls_files, general_log):
    stack = make_tls_stack(host="localhost", tls_mode="verify-full", ca_file=tls_files.ca_cert)
    _rotates_over_tls_only(stack, general_log, tls_files.ca_cert)
    assert _secret(stack, "AWSCURRENT").host == "localhost"


def test_verify_full_refuses_a_wrong_ca(make_tls_stack, other_ca):
    stack = make_tls_stack(host="localhost", tls_mode="verify-full", ca_file=other_ca.ca_cert)
    driver, error = _refused(stack, stack.db, (stack.username, stack.green))
    assert isinstance(error, DatabaseError)
    assert "CERTIFICATE_VERIFY_FAILED" in str(error)
    assert [(r.step, r.error is None) for r in driver.history] == [
        ("createSecret", True),
        ("setSecret", False),
    ]
    assert stack.green not in _accounts(stack.db, stack.green)


def test_verify_full_refuses_a_hostname_mismatch(make_tls_stack, tls_files):
    stack = make_tls_stack(host="127.0.0.1", tls_mode="verify-full", ca_file=tls_files.ca_cert)
    _driver, error = _refused(stack, stack.db, (stack.username, stack.green))
    assert isinstance(error, DatabaseError)
    assert "IP address mismatch, certificate is not valid for '127.0.0.1'" in str(error)


def test_verify_full_without_a_ca_file_uses_the_system_bundle(make_tls_stack):
    """No DB_TLS_CA_FILE: the system CA bundle, which does not trust the test CA."""
    stack = make_tls_stack(host="localhost", tls_mode="verify-full", ca_file=None)
    _driver, error = _refused(stack, stack.db, (stack.username, stack.green))
    assert "CERTIFICATE_VERIFY_FAILED" in str(error)


# -- verify-ca and require -----------------------------------------------------------------------------
def test_verify_ca_accepts_a_hostname_mismatch(make_tls_stack, tls_files, general_log):
    stack = make_tls_stack(host="127.0.0.1", tls_mode="verify-ca", ca_file=tls_files.ca_cert)
    _rotates_over_tls_only(stack, general_log, tls_files.ca_cert)


def test_verify_ca_refuses_a_wrong_ca(make_tls_stack, other_ca):
    stack = make_tls_stack(host="127.0.0.1", tls_mode="verify-ca", ca_file=other_ca.ca_cert)
    _driver, error = _refused(stack, stack.db, (stack.username, stack.green))
    assert "CERTIFICATE_VERIFY_FAILED" in str(error)


def test_require_encrypts_without_verification(make_tls_stack, tls_files, other_ca, general_log):
    """Wrong CA and wrong name: require still rotates, and still only over TLS."""
    stack = make_tls_stack(host="127.0.0.1", tls_mode="require", ca_file=other_ca.ca_cert)
    _rotates_over_tls_only(stack, general_log, tls_files.ca_cert)


# -- a server without TLS: no fallback to plaintext ----------------------------------------------------
@pytest.mark.parametrize("mode", TLS_MODES)
def test_no_fallback_to_plaintext_against_a_server_without_tls(
    make_stack, tls_files, general_log, monkeypatch, mode
):
    stack = make_stack(tls_mode=mode)
    monkeypatch.setenv("DB_TLS_CA_FILE", str(tls_files.ca_cert))
    users = (stack.app.username, stack.app.username + "_green")
    view = SimpleNamespace(
        secretsmanager=stack.secretsmanager,
        ssm=stack.ssm,
        secret_arn=stack.app.secret_arn,
        prefix=stack.prefix,
    )
    with general_log(stack.db) as log:
        driver, error = _refused(view, stack.db, users)
    assert isinstance(error, DatabaseError)
    assert "(2026) SSL is required but the server doesn't support it" in str(error)
    assert [(r.step, r.error is None) for r in driver.history] == [
        ("createSecret", True),
        ("setSecret", False),
    ]
    # The server never saw a login attempt: the client gave up before sending any credentials.
    assert log.connects(("admin", *users)) == []
    assert users[1] not in _accounts(stack.db, users[1])


def test_disable_rotates_against_a_server_without_tls(make_stack):
    stack = make_stack(tls_mode="disable")
    token = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1).rotate(stack.app.secret_arn)
    stages = stack.secretsmanager.describe_secret(SecretId=stack.app.secret_arn)["VersionIdsToStages"]
    assert stages[token] == ["AWSCURRENT"]


# -- TLS requirements of the user are cloned ---------------------------------------------------------
def test_require_ssl_is_cloned_to_the_green_user(make_tls_stack, tls_files):
    stack = make_tls_stack(host="localhost", tls_mode="verify-full", ca_file=tls_files.ca_cert, require="SSL")
    assert _accounts(stack.db, stack.username)[stack.username][2] == "ANY"  # MariaDB's REQUIRE SSL
    token = _rotate(stack)
    _assert_rotated(stack, token, tls_files.ca_cert)
    accounts = _accounts(stack.db, stack.username, stack.green)
    assert accounts[stack.green][2] == "ANY"
    assert accounts[stack.green][0] == accounts[stack.username][0]
    current = _secret(stack, "AWSCURRENT")
    assert _login_error(stack.db, current.username, current.password, ssl_disabled=True) == 1045
    # And back: blue, still REQUIRE SSL, gets the next password and passes testSecret over TLS.
    token = _rotate(stack)
    assert _secret(stack, "AWSCURRENT").username == stack.username
    assert _flag(stack) == "blue"
    assert _accounts(stack.db, stack.username)[stack.username][2] == "ANY"


def _x509_stack_after_set_secret(make_tls_stack, tls_files) -> tuple[Any, RotationDriver, str]:
    stack = make_tls_stack(
        host="localhost", tls_mode="verify-full", ca_file=tls_files.ca_cert, require="X509"
    )
    assert _accounts(stack.db, stack.username)[stack.username][2] == "X509"
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(stack.secret_arn)
    driver.run_steps(stack.secret_arn, token, steps=("createSecret", "setSecret"))
    return stack, driver, token


def test_require_x509_is_cloned_by_set_secret(make_tls_stack, tls_files):
    stack, _driver, _token = _x509_stack_after_set_secret(make_tls_stack, tls_files)
    accounts = _accounts(stack.db, stack.username, stack.green)
    assert accounts[stack.green][2:] == accounts[stack.username][2:] == ("X509", "", "")
    assert accounts[stack.green][0] == accounts[stack.username][0]
    pending = _secret(stack, "AWSPENDING")
    assert pending.username == stack.green
    # The requirement is real: the pending password works only with a certificate from the CA
    # (the server's own certificate serves as a client certificate here).
    assert (
        _tls_login(stack.db, stack.green, pending.password, tls_files.ca_cert, cert=tls_files)[0]
        == stack.green
    )
    with pytest.raises(pymysql.err.OperationalError) as denied:
        _tls_login(stack.db, stack.green, pending.password, tls_files.ca_cert)
    assert denied.value.args[0] == 1045


def test_an_x509_user_fails_test_secret_and_nothing_is_promoted(make_tls_stack, tls_files):
    """Limitation: the function has no client certificate, so it cannot log in as an X509 user.

    testSecret fails with the server's access-denied error, and the rotation stops safely there:
    AWSCURRENT and the flag stay on blue, no green URL is published, blue still logs in.
    """
    stack, driver, token = _x509_stack_after_set_secret(make_tls_stack, tls_files)
    with pytest.raises(DatabaseError, match=r"\(1045\) Access denied"):
        driver.run_steps(stack.secret_arn, token, steps=("testSecret",))
    current = _secret(stack, "AWSCURRENT")
    assert current.username == stack.username
    assert _flag(stack) == "blue"
    green_urls = stack.ssm.get_parameters(
        Names=[f"{stack.prefix}/green/writer-db-url", f"{stack.prefix}/green/reader-db-url"]
    )["Parameters"]
    assert green_urls == []
    assert _tls_login(stack.db, current.username, current.password, tls_files.ca_cert, cert=tls_files)[0] == (
        stack.username
    )
