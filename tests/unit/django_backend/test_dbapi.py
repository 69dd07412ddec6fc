"""The DB-API shim: PyMySQL registered as ``MySQLdb`` with one set of classes.

Run in a fresh interpreter: ``install`` changes ``sys.modules`` for the whole process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("django")

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import sys
from bluegreen_db_django.dbapi import install
import pymysql
MySQLdb = install()
from MySQLdb.constants import CLIENT  # what Django's MySQL backend imports
from MySQLdb.converters import conversions
import MySQLdb.err
assert MySQLdb is pymysql, MySQLdb
assert MySQLdb.err is pymysql.err
assert CLIENT is pymysql.constants.CLIENT
assert conversions is pymysql.converters.conversions
assert install() is MySQLdb  # idempotent
try:
    pymysql.connect(host="127.0.0.1", port=9, connect_timeout=1)
except pymysql.err.OperationalError as exc:  # still PyMySQL's own class, not a second copy
    assert isinstance(exc, MySQLdb.OperationalError)
print("ok")
"""


def run(code: str) -> str:
    env_path = [str(ROOT / "layer" / "python"), str(ROOT / "django_backend")]
    return subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path[:0] = {env_path!r}\n{code}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_pymysql_stands_in_for_mysqldb_with_one_set_of_classes():
    assert run(PROBE).strip() == "ok"


def test_a_real_mysqldb_is_never_shadowed():
    fake = (
        "import types; m = types.ModuleType('MySQLdb'); sys.modules['MySQLdb'] = m\n"
        "from bluegreen_db_django.dbapi import install\n"
        "assert install() is m\n"
        "assert 'MySQLdb.err' not in sys.modules\n"
        "print('ok')"
    )
    assert run(fake).strip() == "ok"
