"""Baseline for the rotation benchmark: the documented multi-user rotation algorithm, no mirror.

Written for this benchmark from the algorithm AWS documents for its multi-user MySQL rotation
template (alternate users, clone the current user's grants, no Parameter Store, no guards): the same
steps and the same kind of AWS calls and connections, on the same local stack, so its time is the
baseline measured in the same run. It is not used anywhere but here.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pymysql


def _conn(secret: dict[str, Any], user: str, password: str) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(
        host=secret["host"],
        port=int(secret.get("port", 3306)),
        user=user,
        password=password,
        connect_timeout=5,
        autocommit=True,
    )


def _get(sm: Any, arn: str, stage: str, token: str | None = None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"SecretId": arn, "VersionStage": stage}
    if token:
        kwargs["VersionId"] = token
    return json.loads(sm.get_secret_value(**kwargs)["SecretString"])


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
            except sm.exceptions.ResourceNotFoundException:
                pass
            except sm.exceptions.InvalidRequestException:
                pass
            user = current["username"]
            current["username"] = user[:-6] if user.endswith("_clone") else user + "_clone"
            current["password"] = sm.get_random_password(ExcludeCharacters="/@\"'\\")["RandomPassword"]
            sm.put_secret_value(
                SecretId=arn,
                ClientRequestToken=token,
                SecretString=json.dumps(current),
                VersionStages=["AWSPENDING"],
            )
        elif step == "setSecret":
            current, pending = _get(sm, arn, "AWSCURRENT"), _get(sm, arn, "AWSPENDING", token)
            try:
                _conn(pending, pending["username"], pending["password"]).close()
                return
            except pymysql.err.OperationalError:
                pass
            master = _get(sm, current["masterarn"], "AWSCURRENT")
            with _conn(current, master["username"], master["password"]) as conn, conn.cursor() as cur:
                cur.execute("SELECT User FROM mysql.user WHERE User = %s", (pending["username"],))
                if not cur.fetchall():
                    cur.execute(
                        "CREATE USER %s@'%%' IDENTIFIED BY %s", (pending["username"], pending["password"])
                    )
                cur.execute("SHOW GRANTS FOR %s@'%%'", (current["username"],))
                for (grant,) in cur.fetchall():
                    if grant.startswith("GRANT USAGE"):
                        continue
                    cur.execute(grant.replace(f"`{current['username']}`@", f"`{pending['username']}`@"))
                cur.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (pending["username"], pending["password"]))
        elif step == "testSecret":
            pending = _get(sm, arn, "AWSPENDING", token)
            with _conn(pending, pending["username"], pending["password"]) as conn, conn.cursor() as cur:
                cur.execute("SELECT NOW()")
        elif step == "finishSecret":
            current_version = next(v for v, s in meta["VersionIdsToStages"].items() if "AWSCURRENT" in s)
            sm.update_secret_version_stage(
                SecretId=arn,
                VersionStage="AWSCURRENT",
                MoveToVersionId=token,
                RemoveFromVersionId=current_version,
            )

    return handler


def client() -> Any:
    return boto3.client("secretsmanager")
