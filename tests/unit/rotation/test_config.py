from __future__ import annotations

import pytest

from bluegreen_rotation.config import DEFAULT_EXCLUDE_CHARACTERS, Settings
from bluegreen_rotation.engines.mysql import ENGINE as MYSQL
from bluegreen_rotation.errors import InvalidInputError


def test_defaults_follow_the_contract():
    s = Settings.from_env({})
    assert (s.env, s.parameter_prefix, s.url_scheme(MYSQL), s.password_length) == (
        "dev",
        None,
        "mysql+pymysql",
        32,
    )
    assert (s.db_tls_mode, s.db_connect_timeout, s.rotation_grace_seconds, s.active_session_policy) == (
        "verify-full",
        5.0,
        900,
        "fail",
    )
    assert s.exclude_characters == DEFAULT_EXCLUDE_CHARACTERS == " /@\"'\\"


def test_empty_exclude_characters_excludes_nothing():
    assert Settings.from_env({"EXCLUDE_CHARACTERS": ""}).exclude_characters == ""


def test_explicit_arguments_win_over_the_environment():
    s = Settings.from_env({"PASSWORD_LENGTH": "40", "ENV": "prod"}, password_length=64)
    assert (s.password_length, s.env) == (64, "prod")


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"DB_TLS_MODE": "prefer"}, "DB_TLS_MODE must be one of"),
        ({"ACTIVE_SESSION_POLICY": "kill"}, "ACTIVE_SESSION_POLICY"),
        ({"PASSWORD_LENGTH": "abc"}, "PASSWORD_LENGTH must be an integer"),
        ({"PASSWORD_LENGTH": "4"}, "between 8 and 4096"),
        ({"DB_CONNECT_TIMEOUT": "0"}, "DB_CONNECT_TIMEOUT"),
        ({"ROTATION_GRACE_SECONDS": "-1"}, "must not be negative"),
        ({"DB_TLS_CA_FILE": "/nonexistent/ca.pem"}, "does not exist"),
    ],
)
def test_invalid_settings_name_the_variable(env, match):
    with pytest.raises(InvalidInputError, match=match):
        Settings.from_env(env)


def test_unknown_override_is_a_programming_error():
    with pytest.raises(TypeError, match="unknown settings: nope"):
        Settings.from_env({}, nope=1)


def test_url_scheme_is_the_engines_unless_db_url_scheme_is_set():
    class Postgres:
        default_url_scheme = "postgresql+psycopg"

    unset = Settings.from_env({})
    assert unset.db_url_scheme is None
    assert (unset.url_scheme(MYSQL), unset.url_scheme(Postgres())) == ("mysql+pymysql", "postgresql+psycopg")
    chosen = Settings.from_env({"DB_URL_SCHEME": "mysql+mysqldb"})
    assert (chosen.url_scheme(MYSQL), chosen.url_scheme(Postgres())) == ("mysql+mysqldb", "mysql+mysqldb")
