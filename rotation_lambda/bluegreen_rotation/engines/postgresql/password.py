"""The password reaches the server only as a SCRAM-SHA-256 verifier, computed on the client.

libpq's ``PQencryptPasswordConn`` (psycopg: ``pgconn.encrypt_password``) with no algorithm asks the
server for its ``password_encryption`` and, with libpq 16 or later (psycopg's binary wheel bundles a
newer one), uses the server's ``scram_iterations``; the verifier is sent as
``ALTER ROLE <role> PASSWORD '<verifier>'``, which PostgreSQL stores as is. So the cleartext is in
no server log (``log_statement=all``), no ``pg_stat_statements`` row and no error message.

A server whose ``password_encryption`` is ``md5`` is refused, naming the fix: an MD5 verifier is a
password equivalent (whoever reads it can log in), MD5 password support is deprecated since
PostgreSQL 18, and the server would then store every new password of the pair in the weaker form.
The verifier is not secret-equivalent, but it is never logged nor put in an error message either.
"""

from __future__ import annotations

from psycopg import sql

from ...errors import DatabaseError
from .connection import Connection, run

__all__ = [
    "SCRAM_ALGORITHM",
    "SCRAM_PREFIX",
    "iterations_problem",
    "password_statement",
    "scram_iterations",
    "scram_verifier",
    "set_password",
]

SCRAM_PREFIX = "SCRAM-SHA-256$"
SCRAM_ALGORITHM = "scram-sha-256"  # nosec B105 - the password_encryption value
_NOT_SCRAM = (
    "the server's password_encryption is not scram-sha-256, so {role!r}'s password would be stored as "
    "an MD5 hash (a password equivalent); fix: set password_encryption = 'scram-sha-256' (on "
    "Aurora/RDS in the DB cluster parameter group), then retry"
)


def scram_verifier(conn: Connection, role: str, password: str, password_encryption: str | None = None) -> str:
    """The SCRAM-SHA-256 verifier of ``password`` for ``role``, as the server's settings ask.

    ``password_encryption``, when the caller has read it from the server, saves libpq asking
    (``SHOW password_encryption``, a round trip); a server setting other than SCRAM is refused
    either way.
    """
    if password_encryption and password_encryption != SCRAM_ALGORITHM:
        raise DatabaseError(_NOT_SCRAM.format(role=role))
    algorithm = password_encryption.encode() if password_encryption else None
    try:
        verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), algorithm).decode()
    except Exception as exc:  # noqa: BLE001 - libpq's error names the setting, never the password
        raise DatabaseError(
            f"cannot compute the password verifier for {role!r}: {type(exc).__name__}"
        ) from None
    if not verifier.startswith(SCRAM_PREFIX):
        raise DatabaseError(_NOT_SCRAM.format(role=role))
    return verifier


def scram_iterations(verifier: str) -> int | None:
    """The iteration count of a ``SCRAM-SHA-256$<iterations>:<salt>$<key>:<key>`` verifier."""
    if not verifier.startswith(SCRAM_PREFIX):
        return None
    count, _, _ = verifier[len(SCRAM_PREFIX) :].partition(":")
    return int(count) if count.isdigit() else None


def iterations_problem(verifier: str, server_setting: str | None) -> str | None:
    """Why a verifier does not honour the server's ``scram_iterations`` (PostgreSQL 16+), if it does not.

    libpq 16+ reads the setting the server reports; an older libpq uses 4096 whatever the server says.
    """
    if not server_setting or not server_setting.isdigit():
        return None  # before PostgreSQL 16 there is no such setting: 4096 is the server's own count
    got = scram_iterations(verifier)
    if got != int(server_setting):
        return (
            f"the password verifier has {got} SCRAM iterations but the server's scram_iterations is "
            f"{server_setting}; fix: use a libpq of version 16 or later (psycopg[binary] bundles one)"
        )
    return None


def password_statement(role: str, verifier: str) -> sql.Composed:
    """``ALTER ROLE`` with the verifier as a quoted literal (a utility statement binds no parameter)."""
    return sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier))


def set_password(
    conn: Connection, role: str, password: str, *, password_encryption: str | None = None
) -> None:
    """Sets ``role``'s password; a failure names the role and SQLSTATE, never password or verifier.

    ``scram_iterations`` is the value the server reports at connect (PostgreSQL 16 on: it is what
    libpq 16+ hashes with), None before 16, where there is no such setting.
    """
    verifier = scram_verifier(conn, role, password, password_encryption)
    problem = iterations_problem(verifier, conn.info.parameter_status("scram_iterations"))
    if problem:
        raise DatabaseError(problem)
    run(
        conn,
        password_statement(role, verifier),
        context=f"ALTER ROLE {role} PASSWORD",
        secrets=(password, verifier, verifier[len(SCRAM_PREFIX) :]),
    )
