"""adopt, rollback and repair against plain fakes: what each writes, in which order, and what it refuses."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bluegreen_ops.operations import repair as repair_module
from bluegreen_ops.operations import writes
from bluegreen_ops.operations.adopt import adopt
from bluegreen_ops.operations.errors import RefusedError
from bluegreen_ops.operations.repair import repair
from bluegreen_ops.operations.rollback import ROLLBACK_LABEL, rollback
from tests.unit.ops.fakes import (
    BLUE,
    BLUE_PASSWORD,
    BLUE_URLS,
    FLAG,
    GREEN,
    GREEN_PASSWORD,
    GREEN_URLS,
    NEW,
    OLD,
    url,
)
from tests.unit.ops.operations.stores import Database, Parameters, Secrets, env

ROTATED = {NEW: ["AWSCURRENT"], OLD: ["AWSPREVIOUS"]}  # green is AWSCURRENT, blue AWSPREVIOUS
BOTH = {OLD: BLUE, NEW: GREEN}


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch) -> Database:
    """Both users with their stages' passwords; logins and the master's password resets go here,
    through a fake engine that offers only the seam's verbs."""
    database = Database({"app": BLUE_PASSWORD, "app_green": GREEN_PASSWORD})

    class Admin:
        def __enter__(self) -> Admin:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def account_states(self, user: str) -> dict[str, Any]:
            known = user in database.passwords
            return {user: SimpleNamespace(user=user, profile="own-plugin") if known else None}

        def set_password(self, source: Any, target: Any, password: str) -> None:
            database.password_sets.append((target.user, source.profile))
            database.passwords[target.user] = password

    engine = SimpleNamespace(
        test_login=database.test_login, admin=lambda *args: Admin(), default_url_scheme="mysql+pymysql"
    )
    monkeypatch.setattr(writes, "engine_for", lambda name: engine)
    monkeypatch.setattr(repair_module, "engine_for", lambda name: engine)
    return database


def test_adopt_writes_awscurrents_urls_then_the_flag_and_is_idempotent(db):
    secrets, params = Secrets({OLD: ["AWSCURRENT"]}, {OLD: BLUE}), Parameters({})
    outcome = adopt(env(secrets, params), force=False, dry_run=False)
    assert (outcome.color, outcome.user, outcome.changed) == ("blue", "app", True)
    assert [name for name, _ in params.puts] == [*BLUE_URLS, FLAG]  # the flag last
    assert params.values == {**BLUE_URLS, FLAG: "blue"}
    assert db.logins == ["app"]  # one host for writer and reader: one login before any write
    again = adopt(env(secrets, params), force=False, dry_run=False)
    assert again.changes == [] and len(params.puts) == 3


def test_adopt_dry_run_says_what_it_would_write_and_writes_nothing(db):
    params = Parameters({})
    outcome = adopt(env(Secrets({OLD: ["AWSCURRENT"]}, {OLD: BLUE}), params), force=False, dry_run=True)
    assert outcome.changes == [f"{n} (missing)" for n in BLUE_URLS] + [f"{FLAG}: missing -> blue"]
    assert params.puts == [] and outcome.as_dict()["changed"] is False


def test_adopt_refuses_to_move_a_flag_on_the_other_color_without_force(db):
    params = Parameters({FLAG: "green", **BLUE_URLS})
    with pytest.raises(RefusedError, match="names 'green' but AWSCURRENT is blue"):
        adopt(env(Secrets({OLD: ["AWSCURRENT"]}, {OLD: BLUE}), params), force=False, dry_run=False)
    assert params.puts == []
    forced = adopt(env(Secrets({OLD: ["AWSCURRENT"]}, {OLD: BLUE}), params), force=True, dry_run=False)
    assert forced.changes == [f"{FLAG}: green -> blue"]


def test_adopt_refuses_credentials_that_do_not_log_in(db):
    db.passwords["app"] = "changed-outside-the-rotation"
    params = Parameters({})
    with pytest.raises(RefusedError, match="AWSCURRENT's password does not log in as 'app'"):
        adopt(env(Secrets({OLD: ["AWSCURRENT"]}, {OLD: BLUE}), params), force=False, dry_run=False)
    assert params.puts == []


def test_rollback_moves_awscurrent_back_marks_it_and_flips_the_flag_last(db):
    secrets = Secrets(ROTATED, BOTH)
    params = Parameters({FLAG: "green", **GREEN_URLS})
    outcome = rollback(env(secrets, params), force=False, dry_run=False)
    assert (outcome.color, outcome.user) == ("blue", "app")
    assert secrets.stages[OLD] == ["AWSCURRENT", ROLLBACK_LABEL]
    assert secrets.stages[NEW] == ["AWSPREVIOUS"]
    assert [name for name, _ in params.puts] == [*BLUE_URLS, FLAG]  # AWSPREVIOUS's URLs, then the flag
    assert params.values[FLAG] == "blue"
    assert outcome.as_dict()["from"] == {"versionId": NEW, "user": "app_green", "color": "green"}


def test_a_second_rollback_would_undo_the_first_and_is_refused(db):
    secrets = Secrets(ROTATED, BOTH)
    params = Parameters({FLAG: "green", **GREEN_URLS})
    rollback(env(secrets, params), force=False, dry_run=False)
    with pytest.raises(RefusedError, match=f"carries the {ROLLBACK_LABEL} label"):
        rollback(env(secrets, params), force=False, dry_run=False)


def test_rollback_refuses_when_awsprevious_no_longer_logs_in(db):
    db.passwords["app"] = "changed-outside-the-rotation"
    secrets, params = Secrets(ROTATED, BOTH), Parameters({FLAG: "green", **GREEN_URLS})
    with pytest.raises(RefusedError, match="AWSPREVIOUS's password does not log in"):
        rollback(env(secrets, params), force=False, dry_run=False)
    assert secrets.stage_moves == [] and params.puts == []


def test_rollback_refuses_under_an_unfinished_rotation(db):
    secrets = Secrets({OLD: ["AWSCURRENT"], NEW: ["AWSPENDING"]}, BOTH)
    with pytest.raises(RefusedError, match=f"rotation {NEW} has not finished"):
        rollback(env(secrets, Parameters({FLAG: "blue"})), force=False, dry_run=False)


def test_repair_sets_a_changed_password_back_and_rewrites_stale_urls_of_both_colors(db):
    db.passwords["app_green"] = "changed-outside-the-rotation"
    stale_blue = {name: url("app", "an-older-Passw0rd") for name in BLUE_URLS}
    params = Parameters({FLAG: "green", **GREEN_URLS, **stale_blue})
    outcome = repair(env(Secrets(ROTATED, BOTH), params), dry_run=False)
    assert db.password_sets == [("app_green", "own-plugin")]  # shaped like itself
    assert db.passwords["app_green"] == GREEN_PASSWORD
    assert outcome.details["passwordsReset"] == [{"user": "app_green", "stage": "AWSCURRENT"}]
    assert {name for name, _ in params.puts} == set(BLUE_URLS)  # green's URLs were right
    assert params.values[FLAG] == "green"  # repair never moves the flag


def test_repair_leaves_the_color_an_unfinished_rotation_owns_alone(db):
    params = Parameters({FLAG: "blue", **BLUE_URLS})
    secrets = Secrets({OLD: ["AWSCURRENT"], NEW: ["AWSPREVIOUS", "AWSPENDING"]}, BOTH)
    secrets.stages = {OLD: ["AWSCURRENT"], NEW: ["AWSPREVIOUS"], "33333333": ["AWSPENDING"]}
    outcome = repair(env(secrets, params), dry_run=False)
    assert outcome.details["skipped"] == {"color": "green", "because": "rotation 33333333 is unfinished"}
    assert outcome.details["unfinishedRotation"] == {"versionId": "33333333", "stage": "AWSPENDING"}
    assert params.puts == [] and db.password_sets == []
