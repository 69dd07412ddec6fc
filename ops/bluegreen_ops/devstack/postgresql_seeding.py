"""A PostgreSQL application database shaped the way the rotation needs it, and its two secrets.

The tables belong to a shared NOLOGIN owner role (``<app>_owner``), as the rotation requires: two
roles cannot own one table, so neither color owns anything. The app role gets grants at several
levels (database, schema, table, column, sequence) and per-role settings (one global, one in the
app database), so cloning the profile is exercised for real. Every password reaches the server
only as a SCRAM verifier, so the server log (``log_statement=all``) never holds one.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from .app_database import AppDatabase, register_secrets
from .postgresql import MASTER_USER, PostgreSQL

__all__ = ["seed_postgresql_application"]


def seed_postgresql_application(
    db: PostgreSQL,
    secretsmanager: Any,
    *,
    name: str,
    username: str,
    password: str,
    dbname: str,
    engine: str = "aurora-postgresql",
    extra_secret: dict[str, Any] | None = None,
    master_extra: dict[str, Any] | None = None,
) -> AppDatabase:
    """Creates the owner role, the database and its tables, the app role and the two secrets."""
    owner = sql.Identifier(f"{username}_owner")
    app = sql.Identifier(username)
    database = sql.Identifier(dbname)
    if not db.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (f"{username}_owner",)):
        db.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(owner))
        # On Aurora the master creates the owner role and so administers it; here it is made a member,
        # which lets it grant on the owner's objects as it could there.
        db.execute(sql.SQL("GRANT {} TO {}").format(owner, sql.Identifier(MASTER_USER)))
    if not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)):
        db.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(database, owner))
    with db.connection(dbname) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(owner))
        conn.execute("CREATE TABLE IF NOT EXISTS items (id serial PRIMARY KEY, name text)")
        conn.execute("CREATE TABLE IF NOT EXISTS archive (id int PRIMARY KEY, name text, note text)")
        conn.execute("INSERT INTO items (id, name) VALUES (1, 'one'), (2, 'two') ON CONFLICT DO NOTHING")
        conn.execute("RESET ROLE")
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (username,)).fetchall():
            verifier = conn.pgconn.encrypt_password(password.encode(), username.encode(), b"scram-sha-256")
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(app, sql.Literal(verifier.decode()))
            )
        for statement in (
            "GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {app}",
            "GRANT USAGE ON SCHEMA public TO {app}",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON items TO {app}",
            "GRANT USAGE, SELECT ON SEQUENCE items_id_seq TO {app}",
            "GRANT SELECT (id, name) ON archive TO {app}",
            "ALTER ROLE {app} SET work_mem = '8MB'",
            "ALTER ROLE {app} IN DATABASE {db} SET lock_timeout = '7s'",
        ):
            conn.execute(sql.SQL(statement).format(app=app, db=database))
    return register_secrets(
        secretsmanager,
        name,
        master={
            "username": MASTER_USER,
            "password": db.master_password,
            "engine": "postgres",
            "host": db.host,
            "port": db.port,
            **(master_extra or {}),
        },
        app={
            "engine": engine,
            "host": db.host,
            "port": db.port,
            "username": username,
            "password": password,
            "dbname": dbname,
            **(extra_secret or {}),
        },
    )
