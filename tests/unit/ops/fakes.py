"""Plain fake Secrets Manager and SSM clients for the CLI's polling logic: a scripted timeline.

Each DescribeSecret call advances the world one tick (staying on the last); GetSecretValue and
GetParameters answer from the current tick. No moto: these only need the few calls the CLI makes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from bluegreen_db.dburl import build_url

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/aurora-AbCdEf"
MASTER_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/aurora/master-XyZ"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:bluegreen-rotation"
PREFIX = "/db/unit"
OLD, NEW = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
BLUE_PASSWORD = "blue-Passw0rd-unit-test-0001"
GREEN_PASSWORD = "green-Passw0rd-unit-test-0002"


def secret_text(user: str, password: str) -> str:
    return json.dumps(
        {
            "engine": "aurora-mysql",
            "host": "db.example.internal",
            "port": 3306,
            "username": user,
            "password": password,
            "dbname": "appdb",
            "masterarn": MASTER_ARN,
            "blueUsername": "app",
            "greenUsername": "app_green",
            "parameterPrefix": PREFIX,
        }
    )


def url(user: str, password: str) -> str:
    return build_url("mysql+pymysql", user, password, "db.example.internal", 3306, "appdb")


def error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} from the fake"}}, operation)


class World:
    """A timeline of states: ``{"stages": {vid: [...]}, "values": {vid: text}, "params": {name: value}}``."""

    def __init__(self, timeline: list[dict[str, Any]], flag_modified: datetime | None = None) -> None:
        self.timeline = timeline
        self.tick = -1
        self.flag_modified = flag_modified or datetime.now(UTC) - timedelta(days=1)
        self.rotate_calls: list[dict[str, Any]] = []
        self.rotate_error: ClientError | None = None
        self.rotation_lambda: str | None = FUNCTION_ARN

    @property
    def now(self) -> dict[str, Any]:
        return self.timeline[max(self.tick, 0)]


class FakeSecretsManager:
    def __init__(self, world: World) -> None:
        self.world = world

    def describe_secret(self, **kwargs: Any) -> dict[str, Any]:
        self.world.tick = min(self.world.tick + 1, len(self.world.timeline) - 1)
        meta: dict[str, Any] = {
            "ARN": ARN,
            "Name": "app/aurora",
            "RotationEnabled": self.world.rotation_lambda is not None,
            "VersionIdsToStages": self.world.now["stages"],
        }
        if self.world.rotation_lambda:
            meta["RotationLambdaARN"] = self.world.rotation_lambda
        return meta

    def get_secret_value(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs["SecretId"] == MASTER_ARN:
            return {"SecretString": json.dumps({"username": "admin", "password": "master-Passw0rd-unit"})}
        stages = self.world.now["stages"]
        version = kwargs.get("VersionId") or next(
            v for v, s in stages.items() if kwargs.get("VersionStage") in s
        )
        text = self.world.now.get("values", {}).get(version)
        if text is None:
            raise error("ResourceNotFoundException", "GetSecretValue")
        return {"ARN": ARN, "VersionId": version, "SecretString": text}

    def rotate_secret(self, **kwargs: Any) -> dict[str, Any]:
        self.world.rotate_calls.append(kwargs)
        if self.world.rotate_error:
            raise self.world.rotate_error
        return {"ARN": ARN, "Name": "app/aurora", "VersionId": kwargs.get("ClientRequestToken", NEW)}


class FakeSSM:
    def __init__(self, world: World) -> None:
        self.world = world

    def get_parameters(self, **kwargs: Any) -> dict[str, Any]:
        names: list[str] = kwargs["Names"]
        params = self.world.now.get("params", {})
        found = []
        for name in names:
            if name in params:
                value, version = params[name] if isinstance(params[name], tuple) else (params[name], 2)
                found.append(
                    {
                        "Name": name,
                        "Value": value,
                        "Version": version,
                        "LastModifiedDate": self.world.flag_modified,
                    }
                )
        return {"Parameters": found, "InvalidParameters": [n for n in names if n not in params]}


BLUE = secret_text("app", BLUE_PASSWORD)
GREEN = secret_text("app_green", GREEN_PASSWORD)
FLAG = f"{PREFIX}/blue-green-env"
BLUE_URLS = {f"{PREFIX}/blue/{r}-db-url": url("app", BLUE_PASSWORD) for r in ("writer", "reader")}
GREEN_URLS = {f"{PREFIX}/green/{r}-db-url": url("app_green", GREEN_PASSWORD) for r in ("writer", "reader")}


def rotation_timeline() -> list[dict[str, Any]]:
    """A rotation from blue to green as seen from outside, one step per tick."""
    before = {FLAG: "blue", **BLUE_URLS}
    return [
        {"stages": {OLD: ["AWSCURRENT"], NEW: ["AWSPENDING"]}, "values": {OLD: BLUE}, "params": before},
        {
            "stages": {OLD: ["AWSCURRENT"], NEW: ["AWSPENDING"]},
            "values": {OLD: BLUE, NEW: GREEN},
            "params": before,
        },
        {
            "stages": {OLD: ["AWSCURRENT"], NEW: ["AWSPENDING"]},
            "values": {OLD: BLUE, NEW: GREEN},
            "params": {**before, **GREEN_URLS},
        },
        {
            "stages": {OLD: ["AWSCURRENT"], NEW: ["AWSPENDING"]},
            "values": {OLD: BLUE, NEW: GREEN},
            "params": {**before, **GREEN_URLS, FLAG: "green"},
        },
        {
            "stages": {OLD: ["AWSPREVIOUS"], NEW: ["AWSCURRENT", "AWSPENDING"]},
            "values": {OLD: BLUE, NEW: GREEN},
            "params": {**before, **GREEN_URLS, FLAG: "green"},
        },
    ]


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
