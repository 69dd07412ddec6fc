"""The PostgreSQL engine against the seam's contract, and its connection rules, without a server."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from bluegreen_rotation.engines import engine_for
from bluegreen_rotation.engines.base import Admin, Endpoint, Engine, LoginDenied
from bluegreen_rotation.engines.postgresql import ENGINE
from bluegreen_rotation.engines.postgresql.admin import PostgreSQLAdmin, lock_key
from bluegreen_rotation.engines.postgresql.connection import (
    connect_error,
    database_error,
    tls_arguments,
    withheld,
)
from bluegreen_rotation.errors import DatabaseError

_: Engine = ENGINE  # mypy: the engine satisfies the seam's Protocol


def _admin_satisfies_the_protocol(admin: PostgreSQLAdmin) -> Admin:
    return admin  # mypy: PostgreSQLAdmin satisfies base.Admin


def test_the_registry_serves_both_secret_engine_values() -> None:
    assert engine_for("postgres") is ENGINE
    assert engine_for("aurora-postgresql") is ENGINE
    assert (ENGINE.name, ENGINE.default_port, ENGINE.default_dbname) == ("postgresql", 5432, "postgres")
    assert ENGINE.max_user_name_bytes == 63
    assert ENGINE.default_url_scheme == "postgresql+psycopg"
    assert ENGINE.secret_engines == ("postgres", "aurora-postgresql")


def test_importing_the_engine_does_not_import_psycopg() -> None:
    """A cold start that only resolves the engine pays for no driver."""
    code = "import sys, bluegreen_rotation.engines.postgresql as p; p.ENGINE; print('psycopg' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("mode", "ca", "expected"),
    [
        ("disable", None, {"sslmode": "disable"}),
        ("require", "/ca.pem", {"sslmode": "require", "ssl_min_protocol_version": "TLSv1.2"}),
        (
            "verify-ca",
            "/ca.pem",
            {"sslmode": "verify-ca", "sslrootcert": "/ca.pem", "ssl_min_protocol_version": "TLSv1.2"},
        ),
        (
            "verify-full",
            None,
            {"sslmode": "verify-full", "sslrootcert": "system", "ssl_min_protocol_version": "TLSv1.2"},
        ),
    ],
)
def test_tls_modes_map_to_libpq_and_never_to_prefer_or_allow(
    mode: str, ca: str | None, expected: dict[str, str]
) -> None:
    assert tls_arguments(Endpoint("db", 5432, mode, ca)) == expected  # type: ignore[arg-type]


def test_a_refused_password_at_connect_is_login_denied() -> None:
    exc = psycopg.OperationalError(
        'connection failed: connection to server at "10.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "app"'
    )
    error = connect_error(exc, "cannot connect", "s3cret-password")
    assert isinstance(error, LoginDenied)
    assert "28P01" in str(error)
    other = connect_error(
        psycopg.OperationalError("connection failed: timeout expired"), "cannot connect", "pw-1234"
    )
    assert not isinstance(other, LoginDenied)
    assert isinstance(other, DatabaseError)


def test_a_message_quoting_the_password_is_withheld() -> None:
    error = connect_error(
        psycopg.OperationalError("weird: s3cret-password"), "cannot connect", "s3cret-password"
    )
    assert "s3cret-password" not in str(error)
    assert withheld("42601", "syntax error at or near", ["verifier-text"])
    assert withheld("XX000", "it said SCRAM-SHA-256$4096:abc", ["SCRAM-SHA-256$4096:abcdef"])
    assert not withheld("42501", "permission denied", ["SCRAM-SHA-256$4096:abcdef"])
    assert not withheld("42601", "syntax error", [])


def test_a_server_error_names_its_sqlstate() -> None:
    exc = psycopg.errors.InsufficientPrivilege("permission denied for table t")
    error = database_error(exc, "GRANT failed")
    assert "GRANT failed" in str(error) and "permission denied" in str(error)


def test_lock_keys_are_stable_signed_64_bit_and_per_secret() -> None:
    a = lock_key("arn:aws:secretsmanager:us-east-1:1:secret:a")
    assert a == lock_key("arn:aws:secretsmanager:us-east-1:1:secret:a")
    assert a != lock_key("arn:aws:secretsmanager:us-east-1:1:secret:b")
    assert -(2**63) <= a < 2**63


@pytest.mark.parametrize(
    ("state", "message", "denied"),
    [
        ("28P01", 'password authentication failed for user "app"', True),
        ("28000", 'role "app" does not exist', True),
        ("28000", 'no pg_hba.conf entry for host "10.0.0.1", user "app", database "x", no encryption', False),
        (None, 'FATAL:  password authentication failed for user "app"', True),
        (None, "timeout expired", False),
        ("42501", "permission denied", False),
    ],
)
def test_login_refusals_by_sqlstate_and_message(state: str | None, message: str, denied: bool) -> None:
    from bluegreen_rotation.engines.postgresql.connection import is_login_denied

    assert is_login_denied(state, message) is denied
