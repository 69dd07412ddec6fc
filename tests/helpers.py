"""Shared checks for integration tests: read the stack's state and try logins, all for real."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pymysql

from bluegreen_db.dburl import parse_url
from tests.engine_stacks import MariaDBProbe, Probe


def secret_value(stack: Any, stage: str = "AWSCURRENT", version_id: str | None = None) -> dict[str, Any]:
    # Always name the stage: moto may return a stale value without one after UpdateSecretVersionStage.
    kwargs: dict[str, Any] = {"SecretId": stack.app.secret_arn, "VersionStage": stage}
    if version_id:
        kwargs["VersionId"] = version_id
    return json.loads(stack.secretsmanager.get_secret_value(**kwargs)["SecretString"])


def stages(stack: Any) -> dict[str, list[str]]:
    meta = stack.secretsmanager.describe_secret(SecretId=stack.app.secret_arn)
    return {k: sorted(v) for k, v in meta["VersionIdsToStages"].items()}


def probe(stack: Any) -> Probe:
    """The stack's engine probe (:mod:`tests.engine_stacks`); a stack built without one is MariaDB's."""
    found = getattr(stack, "probe", None)
    return found if found is not None else MariaDBProbe(stack.db)


def can_login(stack: Any, user: str, password: str) -> bool:
    return probe(stack).can_login(user, password)


def login_as(url: str, **connect_kwargs: Any) -> str:
    """Logs in with a URL's credentials as the shared codec parses them; returns CURRENT_USER()'s user."""
    parsed = parse_url(url)
    conn = pymysql.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database or None,
        **connect_kwargs,
    )
    with conn, conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        return str(cur.fetchone()[0]).split("@")[0]


def pg_connect(url: str, sslmode: str = "disable") -> psycopg.Connection[Any]:
    """A psycopg connection with a PostgreSQL URL's credentials, as a consumer would open it: one place
    for the tests that log in with the URLs the mirror wrote (plaintext on the loopback server unless
    ``sslmode`` says otherwise)."""
    parsed = parse_url(url)
    return psycopg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
        sslmode=sslmode,
        connect_timeout=5,
    )


def url_logs_in_as(stack: Any, url: str, user: str) -> bool:
    return parse_url(url).username == user and probe(stack).login_as(url) == user


def assert_color_urls_log_in(stack: Any, current: dict[str, Any], previous: dict[str, Any]) -> None:
    """Guarantee 2: each color's writer and reader URLs log in as that color's user."""
    params = parameters(stack)
    for secret in (current, previous):
        color = "blue" if secret["username"] == current["blueUsername"] else "green"
        for role in ("writer", "reader"):
            assert url_logs_in_as(
                stack, params[f"{stack.prefix}/{color}/{role}-db-url"][0], secret["username"]
            )


def parameters(stack: Any) -> dict[str, Any]:
    names = [f"{stack.prefix}/blue-green-env"] + [
        f"{stack.prefix}/{c}/{r}-db-url" for c in ("blue", "green") for r in ("writer", "reader")
    ]
    response = stack.ssm.get_parameters(Names=names, WithDecryption=True)
    return {p["Name"]: (p["Value"], p["Type"], p["Version"]) for p in response["Parameters"]}


def flag(stack: Any) -> str | None:
    value = parameters(stack).get(f"{stack.prefix}/blue-green-env")
    return value[0] if value else None


def grants(stack: Any, user: str) -> list[str]:
    """The user's privileges and profile, comparable between the two colors."""
    return probe(stack).grants(user, stack.app.dbname)


def snapshot(stack: Any) -> dict[str, Any]:
    """Everything a rotation may change: database accounts, secret versions, parameters."""
    users = (stack.app.username, f"{stack.app.username}_green", probe(stack).master_user)
    accounts = probe(stack).accounts(users)
    account_grants = {row[0]: grants(stack, row[0]) for row in accounts}
    versions = stack.secretsmanager.list_secret_version_ids(
        SecretId=stack.app.secret_arn, IncludeDeprecated=True
    )
    values = {}
    for v in versions["Versions"]:
        try:
            values[v["VersionId"]] = (
                sorted(v.get("VersionStages", [])),
                stack.secretsmanager.get_secret_value(
                    SecretId=stack.app.secret_arn,
                    VersionId=v["VersionId"],
                    VersionStage=v["VersionStages"][0],
                ).get("SecretString")
                if v.get("VersionStages")
                else None,
            )
        except Exception:
            values[v["VersionId"]] = (sorted(v.get("VersionStages", [])), None)
    return {"accounts": accounts, "grants": account_grants, "secret": values, "parameters": parameters(stack)}
