"""Plain fakes of everything outside the rotation core: Secrets Manager, Parameter Store, a database.

The database side is an engine implementing only the seam (``engines.base.Engine`` / ``Admin``): the
core's steps run against it unchanged, which is the proof that they need nothing else. Each fake
records what it was asked, so a test can say "refused before any change" by the calls it saw.
"""

# ruff: noqa: N803, N806 - the fakes take boto3's own keyword names (SecretId, VersionStage...)

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from bluegreen_rotation.engines.base import AccountState, Endpoint, LoginDenied, Profile, SessionFacts
from bluegreen_rotation.errors import DatabaseError

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf"
MASTER_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:master-AbCdEf"


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


@dataclass
class Clock:
    """The time both Parameter Store and the guards read; tests move it on, nothing sleeps."""

    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


# -- Secrets Manager -------------------------------------------------------------------------------
@dataclass
class FakeSecretsManager:
    """The few Secrets Manager calls the function makes, with the service's stage rules."""

    values: dict[str, dict[str, str | None]] = field(default_factory=dict)  # arn -> version -> text
    stages: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # arn -> version -> stages
    rotation_enabled: bool = True
    calls: list[str] = field(default_factory=list)
    fail: dict[str, ClientError] = field(default_factory=dict)  # operation -> error, raised once
    _passwords: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, arn: str, version: str, text: str | None, *stages: str) -> None:
        self.values.setdefault(arn, {})[version] = text
        self.stages.setdefault(arn, {})[version] = list(stages)

    def _call(self, operation: str) -> None:
        self.calls.append(operation)
        error = self.fail.pop(operation, None)
        if error is not None:
            raise error

    def describe_secret(self, SecretId: str) -> dict[str, Any]:
        self._call("DescribeSecret")
        if SecretId not in self.stages:
            raise client_error("ResourceNotFoundException", "DescribeSecret")
        versions = {v: list(s) for v, s in self.stages[SecretId].items() if s}
        return {
            "ARN": SecretId,
            "Name": SecretId.rsplit(":", 1)[-1],
            "RotationEnabled": self.rotation_enabled,
            "VersionIdsToStages": versions,
        }

    def get_secret_value(
        self, SecretId: str, VersionId: str | None = None, VersionStage: str | None = None
    ) -> dict[str, Any]:
        self._call("GetSecretValue")
        stages = self.stages.get(SecretId, {})
        if VersionId is None:
            VersionId = next((v for v, s in stages.items() if VersionStage in s), None)
        if VersionId not in stages or (VersionStage and VersionStage not in stages[VersionId]):
            raise client_error("ResourceNotFoundException", "GetSecretValue")
        text = self.values[SecretId][VersionId]
        if text is None:
            raise client_error("ResourceNotFoundException", "GetSecretValue")
        return {"ARN": SecretId, "VersionId": VersionId, "SecretString": text}

    def get_random_password(self, PasswordLength: int, ExcludeCharacters: str = "") -> dict[str, Any]:
        self._call("GetRandomPassword")
        body = f"pw{next(self._passwords)}-".ljust(PasswordLength, "x")
        assert not set(body) & set(ExcludeCharacters)
        return {"RandomPassword": body[:PasswordLength]}

    def put_secret_value(
        self,
        SecretId: str,
        ClientRequestToken: str,
        SecretString: str,
        VersionStages: list[str],
        RotationToken: str | None = None,
    ) -> dict[str, Any]:
        self._call("PutSecretValue")
        existing = self.values[SecretId].get(ClientRequestToken)
        if existing is not None and existing != SecretString:
            raise client_error("ResourceExistsException", "PutSecretValue")
        for stages in self.stages[SecretId].values():
            for stage in VersionStages:
                if stage in stages:
                    stages.remove(stage)
        self.values[SecretId][ClientRequestToken] = SecretString
        self.stages[SecretId][ClientRequestToken] = list(VersionStages)
        return {}

    def update_secret_version_stage(
        self, SecretId: str, VersionStage: str, MoveToVersionId: str, RemoveFromVersionId: str
    ) -> dict[str, Any]:
        self._call("UpdateSecretVersionStage")
        versions = self.stages[SecretId]
        assert VersionStage in versions[RemoveFromVersionId]
        versions[RemoveFromVersionId].remove(VersionStage)
        if VersionStage == "AWSCURRENT":  # the service moves AWSPREVIOUS to the replaced version itself
            for stages in versions.values():
                if "AWSPREVIOUS" in stages:
                    stages.remove("AWSPREVIOUS")
            versions[RemoveFromVersionId].append("AWSPREVIOUS")
        versions[MoveToVersionId].append(VersionStage)
        return {}

    def stage_of(self, stage: str, arn: str = ARN) -> dict[str, Any]:
        """The JSON of the version holding ``stage`` (no call recorded: the test's own look)."""
        version = next(v for v, s in self.stages[arn].items() if stage in s)
        return json.loads(self.values[arn][version] or "{}")


# -- Parameter Store --------------------------------------------------------------------------------
@dataclass
class FakeSSM:
    clock: Clock
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    fail_put: set[str] = field(default_factory=set)  # names whose next PutParameter fails

    def get_parameters(self, Names: list[str], WithDecryption: bool = False) -> dict[str, Any]:
        self.calls.append(("GetParameters", tuple(Names)))
        found = [dict(self.parameters[n]) for n in Names if n in self.parameters]
        return {"Parameters": found, "InvalidParameters": [n for n in Names if n not in self.parameters]}

    def put_parameter(self, **kwargs: Any) -> dict[str, Any]:
        name = kwargs["Name"]
        self.calls.append(("PutParameter", kwargs))
        if name in self.fail_put:
            self.fail_put.discard(name)
            raise client_error("ThrottlingException", "PutParameter")
        old = self.parameters.get(name)
        if old is not None and not kwargs.get("Overwrite"):
            raise client_error("ParameterAlreadyExists", "PutParameter")
        version = (old["Version"] if old else 0) + 1
        self.parameters[name] = {
            "Name": name,
            "Value": kwargs["Value"],
            "Type": kwargs["Type"],
            "Version": version,
            "LastModifiedDate": self.clock(),
        }
        return {"Version": version}

    def value(self, name: str) -> str | None:
        found = self.parameters.get(name)
        return None if found is None else str(found["Value"])


# -- a database behind the engine seam --------------------------------------------------------------
@dataclass
class FakeProfile:
    """A profile as plain properties, compared the way the engines compare theirs."""

    props: dict[str, str]

    def differences(self, other: Profile, *, mine: str, theirs: str) -> list[str]:
        assert isinstance(other, FakeProfile)
        return [
            f"{k}: {mine} {self.props.get(k)}, {theirs} {other.props.get(k)}"
            for k in sorted(self.props.keys() | other.props.keys())
            if self.props.get(k) != other.props.get(k)
        ]


@dataclass
class FakeUser:
    password: str
    props: dict[str, str]
    kind: str = "plain"  # stands for an engine's identity detail (MySQL's host part)


MUTATIONS = ("create_partner", "clone_profile", "set_password")


@dataclass
class FakeDatabase:
    """The server's state and every verb the core asked for, in order."""

    users: dict[str, FakeUser] = field(default_factory=dict)
    sessions: dict[str, int] = field(default_factory=dict)
    locked_by_other: bool = False
    unreproducible: list[str] = field(default_factory=list)
    outage_for: set[str] = field(default_factory=set)  # users whose logins fail as an outage would
    calls: list[str] = field(default_factory=list)
    connections: int = 0

    def login(self, user: str, password: str) -> FakeUser:
        self.connections += 1
        if user in self.outage_for:
            raise DatabaseError("cannot connect: (2013) lost connection to the server")
        found = self.users.get(user)
        if found is None or found.password != password:
            raise LoginDenied(f"access denied for {user!r}")
        return found

    @property
    def mutations(self) -> list[str]:
        return [c for c in self.calls if c in MUTATIONS]


class FakeAdmin:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    def _state(self, user: str) -> AccountState | None:
        found = self.db.users.get(user)
        return None if found is None else AccountState(user, FakeProfile(dict(found.props)), found.kind)

    def account_states(self, *users: str) -> dict[str, AccountState | None]:
        self.db.calls.append("account_states")
        return {u: self._state(u) for u in users}

    def unreproducible(self, source: AccountState) -> list[str]:
        self.db.calls.append("unreproducible")
        return list(self.db.unreproducible)

    def partner_problems(self, source: AccountState, partner: AccountState | None) -> list[str]:
        self.db.calls.append("partner_problems")
        if partner is not None and partner.detail != source.detail:
            return [f"{partner.user!r} is {partner.detail}, {source.user!r} is {source.detail}"]
        return []

    def create_partner(self, source: AccountState, user: str) -> AccountState:
        self.db.calls.append("create_partner")
        assert user not in self.db.users
        self.db.users[user] = FakeUser("throwaway", {}, str(source.detail))
        state = self._state(user)
        assert state is not None
        return state

    def clone_profile(self, source: AccountState, target: AccountState) -> list[str]:
        self.db.calls.append("clone_profile")
        assert isinstance(source.profile, FakeProfile)
        user = self.db.users[target.user]
        changes = [
            k
            for k in source.profile.props.keys() | user.props.keys()
            if user.props.get(k) != source.profile.props.get(k)
        ]
        user.props = dict(source.profile.props)
        return sorted(changes)

    def set_password(self, source: AccountState, target: AccountState, password: str) -> None:
        self.db.calls.append("set_password")
        self.db.users[target.user].password = password

    def count_sessions(self, user: str) -> int:
        self.db.calls.append("count_sessions")
        return self.db.sessions.get(user, 0)

    @contextlib.contextmanager
    def rotation_lock(self, key: str) -> Iterator[bool]:
        self.db.calls.append("rotation_lock")
        yield not self.db.locked_by_other


@dataclass
class FakeEngine:
    db: FakeDatabase
    name: str = "fake"
    secret_engines: tuple[str, ...] = ("mysql", "aurora-mysql")
    default_port: int = 3306
    default_dbname: str | None = None
    max_user_name_bytes: int = 32
    default_url_scheme: str = "fake+driver"
    endpoints: list[Endpoint] = field(default_factory=list)

    def can_login(self, endpoint: Endpoint, user: str, password: str, database: str | None) -> bool:
        self.db.calls.append("can_login")
        self.endpoints.append(endpoint)
        try:
            self.db.login(user, password)
        except LoginDenied:
            return False
        return True

    def test_login(self, endpoint: Endpoint, user: str, password: str, database: str | None) -> None:
        self.db.calls.append("test_login")
        self.endpoints.append(endpoint)
        self.db.login(user, password)

    def session_facts(
        self, endpoint: Endpoint, user: str, password: str, database: str | None
    ) -> SessionFacts:
        self.db.calls.append("session_facts")
        self.endpoints.append(endpoint)
        found = self.db.login(user, password)
        return SessionFacts(
            {"role": found.props.get("role", "")}, frozenset(found.props.get("grants", "").split())
        )

    @contextlib.contextmanager
    def admin(
        self, endpoint: Endpoint, user: str, password: str, database: str | None
    ) -> Iterator[FakeAdmin]:
        self.db.calls.append("admin")
        self.endpoints.append(endpoint)
        self.db.login(user, password)
        yield FakeAdmin(self.db)
