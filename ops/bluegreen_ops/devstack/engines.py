"""Which local database server stands in for Aurora: the ``ENGINE`` of ``make demo|invoke|bench``.

One name per engine family, whatever spelling the caller used (``mariadb`` and ``mysql`` are the
same stand-in, as ``postgres`` and ``postgresql`` are), so every entry point accepts the same words
and prints the same label for what it runs.
"""

from __future__ import annotations

from typing import Literal

LocalEngine = Literal["mysql", "postgresql"]

ALIASES: dict[str, LocalEngine] = {
    "mariadb": "mysql",
    "mysql": "mysql",
    "aurora-mysql": "mysql",
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "aurora-postgresql": "postgresql",
}

# What the user is told runs: the server binary and the secret's engine value it stands in for.
LABELS: dict[LocalEngine, str] = {
    "mysql": "MariaDB (Debian's mariadbd; secret engine aurora-mysql, driver pymysql)",
    "postgresql": "PostgreSQL 15 (Debian's postgresql-15; secret engine aurora-postgresql, driver psycopg)",
}


def local_engine(name: str) -> LocalEngine:
    """The engine family ``name`` spells; a ValueError naming the accepted words otherwise."""
    try:
        return ALIASES[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}: use one of {', '.join(sorted(ALIASES))}") from None
