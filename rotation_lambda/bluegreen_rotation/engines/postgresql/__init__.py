"""The PostgreSQL engine (PostgreSQL / Aurora PostgreSQL) behind the seam of :mod:`..base`.

Modules, one job each:
- :mod:`.engine`: ``ENGINE``, its limits and defaults, and the verbs any role runs (psycopg is
  imported only when one runs, so importing the package costs nothing);
- :mod:`.connection`: psycopg 3 connections, TLS mapped to libpq's ``sslmode``, timeouts, typed errors;
- :mod:`.password`: the SCRAM-SHA-256 verifier computed client-side, the only form the server gets;
- :mod:`.profile`: the role's profile model, read from catalog rows, and its differences;
- :mod:`.plan`: the statements that make a partner's profile equal the source's, both ways;
- :mod:`.catalog`: the catalog queries that read a profile and what a role owns;
- :mod:`.rules`: what the master may give (PostgreSQL 15 and 16+ CREATEROLE rules, Aurora's
  ``rds_password``);
- :mod:`.admin`: the master's verbs; :mod:`.session`: what a live session reports.
"""

from __future__ import annotations

from .engine import PostgreSQLEngine

__all__ = ["ENGINE"]

ENGINE = PostgreSQLEngine()
