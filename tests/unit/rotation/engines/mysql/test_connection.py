"""The MySQL engine's seam attributes, its error mapping, and the driver imported only to connect."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pymysql
import pytest

from bluegreen_rotation.engines import engine_for
from bluegreen_rotation.engines.base import LoginDenied
from bluegreen_rotation.engines.mysql import ENGINE
from bluegreen_rotation.engines.mysql.connection import ACCESS_DENIED, database_error
from bluegreen_rotation.errors import DatabaseError, InvalidInputError

ROOT = Path(__file__).resolve().parents[5]


def test_both_mysql_secret_engines_are_served_by_one_engine() -> None:
    assert engine_for("mysql") is engine_for("aurora-mysql") is ENGINE
    assert (ENGINE.default_port, ENGINE.default_dbname, ENGINE.max_user_name_bytes) == (3306, None, 32)
    assert ENGINE.default_url_scheme == "mysql+pymysql"
    with pytest.raises(InvalidInputError, match="'oracle' is not supported"):
        engine_for("oracle")


def test_a_refused_login_is_the_seams_login_denied_with_its_code() -> None:
    exc = pymysql.err.OperationalError(ACCESS_DENIED, "Access denied for user 'app'@'10.0.0.1'")
    error = database_error(exc, "cannot connect to db:3306 as 'app'")
    assert isinstance(error, LoginDenied)
    assert error.code == 1045
    assert str(error) == "cannot connect to db:3306 as 'app': (1045) Access denied for user 'app'@'10.0.0.1'"


def test_other_server_errors_are_not_login_denied() -> None:
    error = database_error(pymysql.err.OperationalError(2013, "Lost connection"), "SELECT failed")
    assert type(error) is DatabaseError
    assert error.code == 2013


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (1064, "You have an error in your SQL syntax near 'Secret-pw-1234'"),  # parse errors quote SQL
        (1396, "Operation ALTER USER failed for 'Secret-pw-1234'"),
        (1396, "Operation failed near 'Secret-p'"),  # a fragment a server would quote
    ],
)
def test_a_message_quoting_the_statements_password_is_withheld(code: int, message: str) -> None:
    error = database_error(
        pymysql.err.OperationalError(code, message), "ALTER USER failed", secrets=["Secret-pw-1234"]
    )
    assert "Secret-p" not in str(error)
    assert "server message withheld" in str(error)


def test_validating_a_secret_imports_no_driver() -> None:
    """A cold start pays for pymysql only when it connects; a PostgreSQL rotation never does."""
    code = (
        "import json, sys; import app; from bluegreen_rotation.secret import DbSecret; "
        "DbSecret.parse(json.dumps({'engine': 'aurora-mysql', 'host': 'h', 'username': 'app', "
        "'password': 'p', 'masterarn': 'arn:aws:secretsmanager:us-east-1:1:secret:m'})); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pymysql', 'psycopg')))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("rotation_lambda", "layer/python")),
    }
    env["POWERTOOLS_TRACE_DISABLED"] = "true"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
