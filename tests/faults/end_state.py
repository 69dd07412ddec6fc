"""End-state checks: :func:`rotation_state`, the state an uninterrupted rotation ends in.

A fingerprint independent of names and passwords, so a faulted run can be compared with the
uninterrupted one, and every broken guarantee listed without quoting a credential; the login and
account reads behind it, per engine (MySQL's ``mysql.user`` and account profile, PostgreSQL's
catalogs).
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
import pymysql


def _logs_in_as(
    stack: Any, user: str, password: str, database: str | None = None, host: str | None = None
) -> str:
    """'' when the credentials log in as ``user``, else a credential-free description of what happened."""
    if getattr(stack, "engine", "mariadb") == "postgresql":
        return _pg_logs_in_as(stack, user, password, database, host)
    try:
        conn = pymysql.connect(
            host=host or stack.db.host,
            port=stack.db.port,
            user=user,
            password=password,
            database=database or None,
            connect_timeout=5,
            ssl_disabled=True,
        )
    except pymysql.err.MySQLError as exc:
        return f"error {exc.args[0]}"
    with conn, conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        row = cur.fetchone()
    who = str(row[0]).split("@")[0] if row else ""
    return "" if who == user else f"logged in as {who!r}"


def _pg_logs_in_as(stack: Any, user: str, password: str, database: str | None, host: str | None) -> str:
    try:
        with psycopg.connect(
            host=host or stack.db.host,
            port=stack.db.port,
            user=user,
            password=password,
            dbname=database or stack.app.dbname,
            sslmode="disable",
            connect_timeout=5,
        ) as conn:
            row = conn.execute("SELECT session_user").fetchone()
    except psycopg.Error as exc:
        return f"error {exc.sqlstate or type(exc).__name__}"
    who = str(row[0]) if row else ""
    return "" if who == user else f"logged in as {who!r}"


def rotation_state(stack: Any, token: str, previous: str) -> tuple[dict[str, Any], list[str]]:
    """A name- and password-independent fingerprint of the end state, and every broken guarantee.

    Checked (contract guarantee 2, and the shape an uninterrupted rotation leaves): AWSCURRENT on the
    token and AWSPREVIOUS on the version it replaced, no AWSPENDING left; the flag on AWSCURRENT's
    color; each color's writer and reader URL is exactly the URL of that color's latest version and
    logs in as that color's user; AWSPREVIOUS's user logs in with its password; the two users have
    the same host part, TLS requirement and grants (PostgreSQL: the same login attributes and
    profile, read from the catalogs). Problems never quote a credential.
    """
    from bluegreen_rotation.secret import DbSecret
    from tests.helpers import probe

    problems: list[str] = []
    arn = stack.app.secret_arn
    sm = stack.secretsmanager
    versions = sm.list_secret_version_ids(SecretId=arn, IncludeDeprecated=True)["Versions"]
    label = {token: "token", previous: "previous"}
    stages = sorted(
        (label.get(v["VersionId"], "other"), tuple(sorted(v.get("VersionStages", [])))) for v in versions
    )
    by_id = {v["VersionId"]: v.get("VersionStages", []) for v in versions}
    if by_id.get(token) != ["AWSCURRENT"]:
        problems.append(f"the token holds {by_id.get(token)}, expected exactly AWSCURRENT")
    if "AWSPREVIOUS" not in by_id.get(previous, []):
        problems.append(f"the replaced version holds {by_id.get(previous)}, expected AWSPREVIOUS")
    if any("AWSPENDING" in s for s in by_id.values()):
        problems.append("AWSPENDING is still staged")

    def read(stage: str) -> DbSecret:
        text = sm.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"]
        return DbSecret.parse(text, stage)

    cur, prev = read("AWSCURRENT"), read("AWSPREVIOUS")
    blue, green = cur.blue_username, cur.green_username
    if (prev.blue_username, prev.green_username) != (blue, green):
        problems.append("AWSCURRENT and AWSPREVIOUS record different user pairs")
    if cur.username == prev.username:
        problems.append("AWSCURRENT and AWSPREVIOUS name the same user")
    same_fields = all(
        getattr(cur, f) == getattr(prev, f) for f in ("engine", "host", "port", "dbname", "masterarn")
    )
    if not same_fields:
        problems.append("AWSCURRENT changed a field other than username and password")

    names = [f"{stack.prefix}/blue-green-env"] + [
        f"{stack.prefix}/{c}/{r}-db-url" for c in ("blue", "green") for r in ("writer", "reader")
    ]
    params = {p["Name"]: p for p in stack.ssm.get_parameters(Names=names, WithDecryption=True)["Parameters"]}
    flag = params.get(names[0], {}).get("Value")
    if flag != cur.color:
        problems.append(f"the flag holds {flag!r}, AWSCURRENT is {cur.color}")
    for version in (cur, prev):
        for role in ("writer", "reader"):
            name = f"{stack.prefix}/{version.color}/{role}-db-url"
            param = params.get(name)
            if param is None:
                problems.append(f"{version.color}/{role} URL is missing")
                continue
            if param["Type"] != "SecureString":
                problems.append(f"{version.color}/{role} URL is a {param['Type']}")
            if param["Value"] != version.url(role, probe(stack).url_scheme):
                problems.append(f"{version.color}/{role} URL is not that of the color's latest version")
            from bluegreen_db.dburl import parse_url

            url = parse_url(param["Value"])
            outcome = _logs_in_as(stack, version.username, url.password, url.database, url.host)
            if url.username != version.username or outcome:
                problems.append(
                    f"{version.color}/{role} URL does not log in as {version.username!r}: {outcome}"
                )
    outcome = _logs_in_as(stack, prev.username, prev.password)
    if outcome:
        problems.append(
            f"AWSPREVIOUS's user {prev.username!r} no longer logs in with its password: {outcome}"
        )

    if getattr(stack, "engine", "mariadb") == "postgresql":
        accounts, grants = _pg_accounts(stack, blue, green)
    else:
        accounts, grants = _mysql_accounts(stack, blue, green)
    if len(accounts) != 2 or accounts.get(blue) != accounts.get(green):
        problems.append(f"the users' host parts or TLS requirements differ: {sorted(accounts.items())}")
    if grants.get(blue) != grants.get(green):
        problems.append("the two users' account profiles differ")

    fingerprint = {
        "stages": stages,
        "current": cur.color,
        "flag": flag,
        "parameters": sorted((n[len(stack.prefix) :], p["Type"]) for n, p in params.items()),
        "accounts": sorted(("blue" if u == blue else "green", a) for u, a in accounts.items()),
        "grants": grants.get(blue),
    }
    return fingerprint, problems


def _mysql_accounts(stack: Any, blue: str, green: str) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Each user's host part and TLS requirement, and its account profile as the MySQL engine reads it."""
    from bluegreen_rotation.engines.mysql.admin import MySQLAdmin as Admin

    accounts = {
        str(u): (str(h), _plain(t))
        for u, h, t in stack.db.execute(
            "SELECT User, Host, ssl_type FROM mysql.user WHERE User IN (%s, %s)", (blue, green)
        )
    }
    with contextlib.closing(stack.db.root()) as conn:
        states = Admin(conn).account_states(*accounts)
    grants = {
        user: sorted(
            f"{k}: {v}".replace(stack.app.dbname, "{db}") for k, v in st.profile.properties().items()
        )
        for user, st in states.items()
        if st is not None
    }
    return accounts, grants


def _pg_accounts(stack: Any, blue: str, green: str) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Each role's login attributes, and its profile read from the catalogs (the stack's database
    name replaced, so stacks compare equal)."""
    accounts = {
        str(u): (bool(login), str(until))
        for u, login, until in stack.db.execute(
            "SELECT rolname, rolcanlogin, rolvaliduntil FROM pg_roles WHERE rolname IN (%s, %s)",
            (blue, green),
        )
    }
    from tests.helpers import grants as profile

    grants = {
        user: sorted(line.replace(stack.app.dbname, "{db}") for line in profile(stack, user))
        for user in accounts
    }
    return accounts, grants


def _plain(value: Any) -> str:
    return value.decode() if isinstance(value, bytes | bytearray) else str(value)
