"""Baseline for the rotation benchmark on PostgreSQL: the documented multi-user algorithm, no mirror.

Written for this benchmark from the algorithm AWS documents for its multi-user PostgreSQL rotation
template (``SecretsManagerRDSPostgreSQLRotationMultiUser``): alternate ``user`` / ``user_clone``;
create the clone with ``CREATE ROLE clone WITH LOGIN PASSWORD '<cleartext>'`` and ``GRANT current TO
clone`` (membership only: no attributes, no per-role settings, no grants copied); later rotations
``ALTER ROLE clone WITH PASSWORD '<cleartext>'``. No Parameter Store, no guards, no profile check.
The cleartext is interpolated into the statement client-side, as that template's driver does, so it
reaches the server (and its log with ``log_statement=ddl``): the behaviour being measured, not copied
elsewhere. TLS is negotiated with libpq's ``prefer`` (TLS when offered, else plaintext), the
template's fallback when the secret has no ``ssl`` key.

Same interface as :mod:`bench.baseline_multiuser` (``make_handler(sm)``, ``client()``), so the
rotation benchmark drives both the same way. It is not used anywhere but here.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import psycopg
from psycopg import sql

CLONE_SUFFIX = "_clone"


def _conn(secret: dict[str, Any], user: str, password: str) -> psycopg.Connection[Any]:
    """A client-side-binding connection: utility statements (CREATE/ALTER ROLE) take no parameters
    server-side, so the password is a literal in the statement text, as in the reference."""
    return psycopg.connect(
        host=secret["host"],
        port=int(secret.get("port", 5432)),
        user=user,
        password=password,
        dbname=secret.get("dbname") or "postgres",
        connect_timeout=5,
        sslmode="prefer",
        autocommit=True,
        cursor_factory=psycopg.ClientCursor,
    )


def _get(sm: Any, arn: str, stage: str, token: str | None = None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"SecretId": arn, "VersionStage": stage}
    if token:
        kwargs["VersionId"] = token
    value: dict[str, Any] = json.loads(sm.get_secret_value(**kwargs)["SecretString"])
    return value


def _logs_in(secret: dict[str, Any]) -> bool:
    try:
        _conn(secret, secret["username"], secret["password"]).close()
    except psycopg.OperationalError:
        return False
    return True


def alternate(user: str) -> str:
    """``app`` -> ``app_clone`` -> ``app``: the reference's two users."""
    return user[: -len(CLONE_SUFFIX)] if user.endswith(CLONE_SUFFIX) else user + CLONE_SUFFIX


def make_handler(sm: Any) -> Any:
    def handler(event: dict[str, Any], _context: Any) -> None:
        arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
        meta = sm.describe_secret(SecretId=arn)
        if not meta.get("RotationEnabled") or "AWSPENDING" not in meta["VersionIdsToStages"].get(token, []):
            raise ValueError("bad rotation state")
        if step == "createSecret":
            current = _get(sm, arn, "AWSCURRENT")
            try:
                _get(sm, arn, "AWSPENDING", token)
                return
            except (sm.exceptions.ResourceNotFoundException, sm.exceptions.InvalidRequestException):
                pass
            current["username"] = alternate(current["username"])
            current["password"] = sm.get_random_password(ExcludeCharacters="/@\"'\\")["RandomPassword"]
            sm.put_secret_value(
                SecretId=arn,
                ClientRequestToken=token,
                SecretString=json.dumps(current),
                VersionStages=["AWSPENDING"],
            )
        elif step == "setSecret":
            current, pending = _get(sm, arn, "AWSCURRENT"), _get(sm, arn, "AWSPENDING", token)
            if _logs_in(pending):
                return
            if alternate(current["username"]) != pending["username"]:
                raise ValueError("pending user is not the current user's alternate")
            master = _get(sm, current["masterarn"], "AWSCURRENT")
            clone, source = sql.Identifier(pending["username"]), sql.Identifier(current["username"])
            with _conn(current, master["username"], master["password"]) as conn, conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (pending["username"],))
                if not cur.fetchall():
                    cur.execute(
                        sql.SQL("CREATE ROLE {} WITH LOGIN PASSWORD %s").format(clone), (pending["password"],)
                    )
                    cur.execute(sql.SQL("GRANT {} TO {}").format(source, clone))
                else:
                    cur.execute(
                        sql.SQL("ALTER ROLE {} WITH PASSWORD %s").format(clone), (pending["password"],)
                    )
        elif step == "testSecret":
            pending = _get(sm, arn, "AWSPENDING", token)
            with _conn(pending, pending["username"], pending["password"]) as conn:
                conn.execute("SELECT now()")
        elif step == "finishSecret":
            current_version = next(v for v, s in meta["VersionIdsToStages"].items() if "AWSCURRENT" in s)
            if current_version == token:
                return
            sm.update_secret_version_stage(
                SecretId=arn,
                VersionStage="AWSCURRENT",
                MoveToVersionId=token,
                RemoveFromVersionId=current_version,
            )

    return handler


def client() -> Any:
    return boto3.client("secretsmanager")
