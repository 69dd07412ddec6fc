"""The DB-API driver Django's MySQL backend imports as ``MySQLdb``: mysqlclient, else PyMySQL.

``pymysql.install_as_MySQLdb()`` alone is a trap: it registers only the package, so Django's
``from MySQLdb.constants import CLIENT`` / ``from MySQLdb.converters import conversions`` make Python
execute PyMySQL's submodules a *second* time under ``MySQLdb.*`` names and rebind ``pymysql.err``
(and others) to those copies. From then on ``except pymysql.err.MySQLError`` in any other code of the
process (the rotation function, the layer) no longer catches what ``pymysql.connect`` raises.
:func:`install` registers every PyMySQL submodule under its ``MySQLdb`` name first, so there is one
set of classes (tests/unit/django_backend/test_dbapi.py checks it).
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

_PYMYSQL_SUBMODULES = (
    "_auth",
    "charset",
    "connections",
    "constants",
    "constants.CLIENT",
    "constants.COMMAND",
    "constants.CR",
    "constants.ER",
    "constants.FIELD_TYPE",
    "constants.FLAG",
    "constants.SERVER_STATUS",
    "converters",
    "cursors",
    "err",
    "optionfile",
    "protocol",
    "times",
)


def install() -> ModuleType:
    """The ``MySQLdb`` module Django will use: mysqlclient if installed, else PyMySQL aliased whole."""
    pymysql = importlib.import_module("pymysql")
    existing = sys.modules.get("MySQLdb")
    if existing is None:
        try:
            return importlib.import_module("MySQLdb")  # mysqlclient
        except ImportError:
            sys.modules["MySQLdb"] = pymysql
    elif existing is not pymysql:
        return existing  # mysqlclient, already imported
    for name in _PYMYSQL_SUBMODULES:
        importlib.import_module(f"pymysql.{name}")
    for name, module in list(sys.modules.items()):
        if name == "pymysql" or name.startswith("pymysql."):
            sys.modules.setdefault("MySQLdb" + name[len("pymysql") :], module)
    return sys.modules["MySQLdb"]
