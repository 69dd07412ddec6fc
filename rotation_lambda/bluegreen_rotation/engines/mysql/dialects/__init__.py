"""Where MariaDB and MySQL 8 / Aurora MySQL 3 differ, one module per engine.

The engine is told by the version string of the server's greeting (``conn.server_version``, the same
text ``SELECT VERSION()`` returns, read without a round trip): MariaDB's contains ``MariaDB``
(``5.5.5-10.11.6-MariaDB``); Aurora MySQL 3 reports ``8.0.x`` like MySQL 8.0.
"""

from __future__ import annotations

import re

from .base import Dialect, Statement
from .mariadb import MariaDBDialect
from .mysql8 import MySQL8Dialect

__all__ = ["Dialect", "MariaDBDialect", "MySQL8Dialect", "Statement", "dialect_for"]


def dialect_for(server_version: str) -> Dialect:
    """The dialect of a server, from its version string; engines this project does not know fail."""
    if "mariadb" in server_version.lower():
        return MariaDBDialect()
    m = re.match(r"(\d+)\.", server_version)
    if m and int(m.group(1)) >= 8:
        return MySQL8Dialect()
    raise ValueError(
        f"unsupported server version {server_version!r}: MySQL 8.0 / Aurora MySQL 3 or MariaDB expected"
    )
