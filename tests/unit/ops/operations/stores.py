"""Plain, mutable fakes for the writing operations: a Secrets Manager, a Parameter Store, a database.

Only the calls adopt, rollback and repair make. Each records its writes, so a test can say exactly what
an operation changed, and what it left alone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from bluegreen_ops.operations.env import Env
from bluegreen_ops.operations.reporting import Silent
from bluegreen_rotation.config import Settings
from bluegreen_rotation.engines.base import LoginDenied
from tests.unit.ops.fakes import ARN, MASTER_ARN, error


class Secrets:
    """Versions and their stages; ``update_secret_version_stage`` moves AWSPREVIOUS as the service does."""

    def __init__(self, stages: dict[str, list[str]], values: dict[str, str]) -> None:
        self.stages = {vid: list(s) for vid, s in stages.items()}
        self.values = dict(values)
        self.stage_moves: list[dict[str, Any]] = []

    def describe_secret(self, **kwargs: Any) -> dict[str, Any]:
        return {
            "ARN": ARN,
            "Name": "app/aurora",
            "RotationEnabled": True,
            "VersionIdsToStages": {v: list(s) for v, s in self.stages.items()},
        }

    def get_secret_value(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs["SecretId"] == MASTER_ARN:
            return {"SecretString": json.dumps({"username": "admin", "password": "master-Passw0rd-unit"})}
        text = self.values.get(kwargs["VersionId"])
        if text is None:
            raise error("ResourceNotFoundException", "GetSecretValue")
        return {"ARN": ARN, "VersionId": kwargs["VersionId"], "SecretString": text}

    def update_secret_version_stage(self, **kwargs: Any) -> dict[str, Any]:
        self.stage_moves.append(kwargs)
        stage, to = kwargs["VersionStage"], kwargs["MoveToVersionId"]
        for vid, stages in self.stages.items():
            if stage in stages and vid != to:
                stages.remove(stage)
                if stage == "AWSCURRENT":
                    for other in self.stages.values():
                        if "AWSPREVIOUS" in other:
                            other.remove("AWSPREVIOUS")
                    stages.append("AWSPREVIOUS")
        self.stages[to].append(stage)
        return {}


class Parameters:
    """The mirror's parameters by name; every put is recorded in order."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = dict(values)
        self.puts: list[tuple[str, str]] = []
        self.modified = datetime.now(UTC) - timedelta(days=1)

    def get_parameters(self, **kwargs: Any) -> dict[str, Any]:
        names: list[str] = kwargs["Names"]
        found = [
            {"Name": n, "Value": self.values[n], "Version": 2, "LastModifiedDate": self.modified}
            for n in names
            if n in self.values
        ]
        return {"Parameters": found, "InvalidParameters": [n for n in names if n not in self.values]}

    def put_parameter(self, **kwargs: Any) -> dict[str, Any]:
        self.puts.append((kwargs["Name"], kwargs["Value"]))
        self.values[kwargs["Name"]] = kwargs["Value"]
        return {"Version": 3}


class Database:
    """Users and their passwords; a login with another password is denied (the engine's LoginDenied)."""

    def __init__(self, passwords: dict[str, str]) -> None:
        self.passwords = dict(passwords)
        self.logins: list[str] = []
        self.password_sets: list[tuple[str, str]] = []

    def test_login(self, endpoint: Any, user: str, password: str, database: str | None) -> None:
        self.logins.append(user)
        if self.passwords.get(user) != password:
            raise LoginDenied(f"Access denied for user {user!r}")


def env(secrets: Secrets, parameters: Parameters) -> Env:
    return Env(
        secret_id=ARN,
        out=Silent(),
        settings=Settings.from_env({}),
        sm=secrets,  # type: ignore[arg-type]
        ssm=parameters,  # type: ignore[arg-type]
    )
