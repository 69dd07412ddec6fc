"""The four steps against plain fakes: the core needs nothing of a database but the engine seam.

Every step runs twice (Secrets Manager retries), each refusal of setSecret leaves the database as it
found it, and testSecret's outage path (AWSCURRENT's password no longer logs in) lets the rotation
that ends the outage go on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bluegreen_rotation.config import Settings
from bluegreen_rotation.engines.base import LoginDenied
from bluegreen_rotation.errors import DatabaseError, InvalidInputError, RotationRefusedError
from bluegreen_rotation.rotation import run_step
from bluegreen_rotation.secret import DbSecret
from bluegreen_rotation.secrets_store import SecretStore
from tests.unit.rotation.fakes import (
    ARN,
    MASTER_ARN,
    Clock,
    FakeDatabase,
    FakeEngine,
    FakeSecretsManager,
    FakeSSM,
    FakeUser,
)

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
PREFIX = "/db/dev"
BLUE_PROPS = {"grants": "SELECT INSERT", "role": "reporting", "limit": "10"}


@dataclass
class World:
    """One adopted single-user secret, its master secret, the mirror and the database."""

    clock: Clock = field(default_factory=lambda: Clock(datetime.now(UTC)))
    sm: FakeSecretsManager = field(default_factory=FakeSecretsManager)
    db: FakeDatabase = field(default_factory=FakeDatabase)
    settings: dict[str, Any] = field(default_factory=dict)
    step: str | None = None  # the step running, for fakes that act during one

    def __post_init__(self) -> None:
        self.ssm = FakeSSM(self.clock)
        self.engine = FakeEngine(self.db)
        self.store = SecretStore(self.sm)  # type: ignore[arg-type]
        self.sm.add(ARN, "v1", json.dumps(_secret()), "AWSCURRENT")
        self.sm.add(MASTER_ARN, "m1", json.dumps({"username": "admin", "password": "admin-pw"}), "AWSCURRENT")
        self.db.users["app"] = FakeUser("blue-pw", dict(BLUE_PROPS))
        self.db.users["admin"] = FakeUser("admin-pw", {})

    def start(self, token: str) -> None:
        """What RotateSecret does before the first step: a version with AWSPENDING and no value."""
        self.sm.add(ARN, token, None, "AWSPENDING")

    def run(self, step: str, token: str) -> None:
        event = {"Step": step, "SecretId": ARN, "ClientRequestToken": token}
        settings = Settings.from_env({}, db_tls_mode="disable", **self.settings)
        run_step(event, store=self.store, ssm=self.ssm, settings=settings, engines=lambda _: self.engine)

    def rotate(self, token: str, *, twice: bool = False) -> None:
        self.start(token)
        for step in STEPS:
            self.run(step, token)
            if twice:
                self.run(step, token)

    def age_flag(self, seconds: float) -> None:
        """The flag was last written ``seconds`` earlier than it was (the grace period passing)."""
        flag = self.ssm.parameters[f"{PREFIX}/blue-green-env"]
        flag["LastModifiedDate"] -= timedelta(seconds=seconds)

    def url(self, color: str, role: str) -> str | None:
        return self.ssm.value(f"{PREFIX}/{color}/{role}-db-url")

    def flag(self) -> str | None:
        return self.ssm.value(f"{PREFIX}/blue-green-env")


def _secret(**changes: Any) -> dict[str, Any]:
    value = {
        "engine": "mysql",
        "host": "db.example.internal",
        "username": "app",
        "password": "blue-pw",
        "masterarn": MASTER_ARN,
        "dbname": "appdb",
    }
    value.update(changes)
    return value


@pytest.fixture
def world() -> World:
    return World()


def test_a_rotation_with_every_step_run_twice_ends_as_one_run_once(world: World) -> None:
    world.rotate("t1", twice=True)

    current = world.sm.stage_of("AWSCURRENT")
    assert current["username"] == "app_green"
    assert (current["blueUsername"], current["greenUsername"]) == ("app", "app_green")
    assert world.sm.stages[ARN]["v1"] == ["AWSPREVIOUS"]
    assert world.sm.calls.count("PutSecretValue") == 1, "a retried createSecret reuses the staged password"
    green = world.db.users["app_green"]
    assert (green.password, green.props) == (current["password"], BLUE_PROPS)
    assert world.db.users["app"].password == "blue-pw", "AWSPREVIOUS's user still logs in"
    assert world.db.mutations == ["create_partner", "clone_profile", "set_password"]
    assert world.flag() == "green"
    pending = DbSecret.parse(json.dumps(current))
    assert world.url("green", "writer") == pending.url("writer", "fake+driver")
    assert world.url("green", "reader") == pending.url("reader", "fake+driver")
    assert world.url("blue", "writer") == DbSecret.parse(json.dumps(_secret())).url("writer", "fake+driver")


def test_the_next_rotation_changes_blue_only_and_creates_nothing(world: World) -> None:
    world.rotate("t1")
    green_password = world.db.users["app_green"].password
    world.age_flag(901)
    world.db.calls.clear()

    world.rotate("t2", twice=True)

    current = world.sm.stage_of("AWSCURRENT")
    assert (current["username"], world.flag()) == ("app", "blue")
    assert world.db.users["app"].password == current["password"] != "blue-pw"
    assert world.db.users["app_green"].password == green_password
    assert world.db.mutations == ["clone_profile", "set_password"]


def test_the_url_scheme_is_db_url_scheme_when_set() -> None:
    world = World(settings={"db_url_scheme": "mysql+mysqldb"})
    world.rotate("t1")
    assert str(world.url("green", "writer")).startswith("mysql+mysqldb://app_green:")


# -- setSecret refuses before any change ------------------------------------------------------------
def _partner_of_another_kind(world: World) -> None:
    world.db.users["app_green"] = FakeUser("old", {}, kind="elsewhere")


def _unreproducible(world: World) -> None:
    world.db.unreproducible = ["GRANT PROXY ON x TO app: the master lacks it; fix: REVOKE it"]


def _live_sessions(world: World) -> None:
    world.db.sessions["app_green"] = 2


def _lock_held(world: World) -> None:
    world.db.locked_by_other = True


def _flag_on_the_target(world: World) -> None:
    world.ssm.parameters[f"{PREFIX}/blue-green-env"] = {
        "Name": f"{PREFIX}/blue-green-env",
        "Value": "green",
        "Type": "String",
        "Version": 3,
        "LastModifiedDate": world.clock() - timedelta(days=1),
    }


def _current_user_missing(world: World) -> None:
    del world.db.users["app"]


@pytest.mark.parametrize(
    ("arrange", "error", "match"),
    [
        (_partner_of_another_kind, DatabaseError, "'app_green' is elsewhere"),
        (_unreproducible, DatabaseError, "nothing was changed: GRANT PROXY ON x TO app"),
        (_live_sessions, RotationRefusedError, "2 live session"),
        (_lock_held, RotationRefusedError, "another setSecret"),
        # The flag is moved back to AWSCURRENT's color, which restarts the target's grace period.
        (_flag_on_the_target, RotationRefusedError, "ROTATION_GRACE_SECONDS"),
        (_current_user_missing, DatabaseError, "'app' does not exist"),
    ],
)
def test_set_secret_refuses_before_any_change(world: World, arrange: Any, error: Any, match: str) -> None:
    world.start("t1")
    world.run("createSecret", "t1")
    arrange(world)
    partner_before = world.db.users.get("app_green")
    for _ in range(2):
        with pytest.raises(error, match=match):
            world.run("setSecret", "t1")
    assert world.db.mutations == []
    assert world.db.users.get("app_green") == partner_before
    assert world.sm.stage_of("AWSCURRENT")["username"] == "app"


def test_the_grace_period_protects_the_color_that_just_left_the_flag(world: World) -> None:
    world.rotate("t1")
    world.db.calls.clear()
    world.start("t2")
    world.run("createSecret", "t2")
    with pytest.raises(RotationRefusedError, match="the flag left blue 0s ago"):
        world.run("setSecret", "t2")
    assert "admin" not in world.db.calls, "refused before the master user logs in"


def test_live_sessions_are_only_warned_about_under_policy_warn() -> None:
    world = World(settings={"active_session_policy": "warn"})
    world.db.sessions["app_green"] = 1
    world.rotate("t1")
    assert world.flag() == "green"


def test_create_secret_rejects_an_unreadable_master_secret_before_staging(world: World) -> None:
    world.sm.values[MASTER_ARN]["m1"] = "not json"
    world.start("t1")
    with pytest.raises(InvalidInputError, match="master secret is not valid JSON"):
        world.run("createSecret", "t1")
    assert "PutSecretValue" not in world.sm.calls


# -- testSecret -------------------------------------------------------------------------------------
def _set(world: World) -> None:
    world.start("t1")
    world.run("createSecret", "t1")
    world.run("setSecret", "t1")


def test_test_secret_compares_profiles_alone_when_awscurrent_no_longer_logs_in(world: World) -> None:
    """An outage the flip ends: AWSCURRENT's password was changed behind the function's back."""
    _set(world)
    world.db.users["app"].password = "changed-elsewhere"
    world.db.calls.clear()
    world.run("testSecret", "t1")
    world.run("testSecret", "t1")
    assert world.db.calls.count("session_facts") == 4  # the pending user's and the refused current's
    world.run("finishSecret", "t1")
    assert world.flag() == "green"


def test_test_secret_still_refuses_a_differing_profile_during_that_outage(world: World) -> None:
    _set(world)
    world.db.users["app"].password = "changed-elsewhere"
    world.db.users["app_green"].props["limit"] = "20"
    with pytest.raises(DatabaseError, match="limit: 'app' 10, 'app_green' 20"):
        world.run("testSecret", "t1")


def test_test_secret_does_not_mistake_an_outage_for_a_refused_login(world: World) -> None:
    _set(world)
    world.db.outage_for.add("app")
    with pytest.raises(DatabaseError, match="lost connection"):
        world.run("testSecret", "t1")


def test_test_secret_compares_live_sessions(world: World) -> None:
    _set(world)
    world.db.users["app"].props["role"] = "admin_role"  # the session differs, as would the profile
    with pytest.raises(DatabaseError, match="session role: 'app' admin_role, 'app_green' reporting"):
        world.run("testSecret", "t1")


def test_the_configuration_test_only_logs_in_and_changes_nothing(world: World) -> None:
    """RotateSecret with RotateImmediately=false: testSecret alone, on a copy of AWSCURRENT."""
    world.sm.add(ARN, "cfg", json.dumps(_secret()), "AWSPENDING")
    world.run("testSecret", "cfg")
    world.run("testSecret", "cfg")
    assert world.db.calls == ["test_login", "test_login"]  # writer and reader are one host here
    assert world.ssm.calls == [] and "PutSecretValue" not in world.sm.calls
    with pytest.raises(RotationRefusedError, match="both 'app'"):
        world.run("finishSecret", "cfg")


# -- finishSecret -----------------------------------------------------------------------------------
def test_finish_secret_interrupted_before_the_flag_completes_on_retry(world: World) -> None:
    _set(world)
    world.run("testSecret", "t1")
    world.ssm.fail_put.add(f"{PREFIX}/blue-green-env")
    with pytest.raises(Exception, match="Throttling"):
        world.run("finishSecret", "t1")
    assert world.sm.stage_of("AWSCURRENT")["username"] == "app", "AWSCURRENT moves only after the flag"
    assert world.flag() == "blue"
    world.run("finishSecret", "t1")
    world.run("finishSecret", "t1")
    assert (world.flag(), world.sm.stage_of("AWSCURRENT")["username"]) == ("green", "app_green")


def test_a_finished_token_only_completes_the_mirror(world: World) -> None:
    world.rotate("t1")
    del world.ssm.parameters[f"{PREFIX}/green/reader-db-url"]
    world.db.calls.clear()
    world.run("finishSecret", "t1")
    assert world.url("green", "reader") is not None
    assert world.db.calls == []
    for step in ("createSecret", "setSecret", "testSecret"):
        world.run(step, "t1")
    assert world.db.calls == []


class _RdsRotatesTheMaster:
    """Wraps the fake service's GetSecretValue: right after the first read of the master secret
    during ``step``, RDS rotates it (the database, then the secret), as a managed master may."""

    def __init__(self, world: World, step: str) -> None:
        self.world, self.step, self.fired = world, step, False
        self._real = world.sm.get_secret_value
        world.sm.get_secret_value = self  # type: ignore[method-assign]

    def __call__(self, **kwargs: Any) -> dict[str, Any]:
        response = self._real(**kwargs)
        if kwargs["SecretId"] == MASTER_ARN and not self.fired and self.world.step == self.step:
            self.fired = True
            self.world.db.users["admin"] = FakeUser("rotated-by-rds", {})
            self.world.sm.stages[MASTER_ARN]["m1"] = []
            self.world.sm.add(
                MASTER_ARN,
                "m2",
                json.dumps({"username": "admin", "password": "rotated-by-rds"}),
                "AWSCURRENT",
            )
        return response  # type: ignore[no-any-return]


@pytest.mark.parametrize("step", ["setSecret", "testSecret"])
def test_a_master_rotated_between_read_and_login_is_read_once_more(world: World, step: str) -> None:
    rds = _RdsRotatesTheMaster(world, step)
    world.start("t1")
    for s in STEPS:
        world.step = s
        world.run(s, "t1")
    assert rds.fired and world.flag() == "green"


def test_a_master_password_refused_twice_fails_the_step_and_changes_nothing(world: World) -> None:
    world.start("t1")
    world.run("createSecret", "t1")
    world.db.users["admin"] = FakeUser("not-the-secrets-password", {})
    reads = world.sm.calls.count("GetSecretValue")
    with pytest.raises(LoginDenied):
        world.run("setSecret", "t1")
    assert "app_green" not in world.db.users
    assert world.sm.calls.count("GetSecretValue") - reads >= 2  # the master secret was read again
