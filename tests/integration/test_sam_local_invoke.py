"""`sam local invoke` for real: the built functions run in Lambda-like containers against the local stack.

What `make invoke` does, asserted: `sam build`, a private Docker engine, the stand-in python3.12 image
(built once, cached by the recipe's hash), MariaDB and moto on the engine's bridge gateway, then whole
rotations with one `sam local invoke RotationFunction` per step, and the example consumer reading the
live color through the layer in /opt/python. Afterwards nothing may be left running or mounted.
One rotation of a PostgreSQL secret (``make invoke ENGINE=postgres``) runs the same way, its consumer
logging in through psycopg.

Where Docker's engine cannot run at all (not root, no cgroups) the module is skipped with the reason;
under CI (``tests.availability``) that skip is a failure, so CI cannot pass without running it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bluegreen_db.dburl import parse_url
from bluegreen_db.naming import ParameterNames
from bluegreen_ops import sam_local
from tests.availability import skip_unless_available
from tests.helpers import login_as, pg_connect
from tests.reporting import report

pytestmark = [pytest.mark.container, pytest.mark.slow]


@pytest.fixture(scope="module")
def engine_available() -> None:
    reason = sam_local.docker_unavailable_reason()
    if reason:
        skip_unless_available(f"Docker's engine cannot run here: {reason}")


def _bridge_exists(name: str) -> bool:
    ip = sam_local._which("ip")
    assert ip
    return subprocess.run([ip, "link", "show", "dev", name], capture_output=True, check=False).returncode == 0


def _assert_engine_gone(engine: sam_local.DockerEngine) -> None:
    started = sam_local._proc_start_time(engine.pid)
    assert started is None or "dockerd" not in sam_local._proc_cmdline(engine.pid), "dockerd still runs"
    assert not sam_local._processes_mentioning(str(engine.workdir)), "processes of the engine remain"
    assert not sam_local._mounts_below(engine.workdir), "mounts under the engine's temp dir remain"
    assert not engine.workdir.exists(), "the engine's temp dir remains"
    assert not _bridge_exists(engine.bridge), "the engine's bridge remains"


@pytest.fixture(scope="module")
def rotation(engine_available: None) -> Iterator[sam_local.LocalRotation]:
    with sam_local.local_rotation() as local:
        engine, db_pid = local.engine, local.db.process.pid if local.db.process else None
        yield local
        # A container still running at teardown (with a published port, so docker-proxy runs too)
        # must not survive it.
        local.engine.docker(
            "run", "-d", "-p", "127.0.0.1::8080", "--entrypoint", "/bin/sleep", local.image, "600"
        )
    _assert_engine_gone(engine)
    assert db_pid is not None and sam_local._proc_start_time(db_pid) is None, "mariadbd still runs"


def _parameter(local: sam_local.LocalRotation, name: str) -> str:
    return local.ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]


def _stages(local: sam_local.LocalRotation) -> dict[str, list[str]]:
    return local.secretsmanager.describe_secret(SecretId=local.app.secret_arn)["VersionIdsToStages"]


def _check_steps(outcome: sam_local.RotationOutcome) -> None:
    report(
        "sam local invoke",
        f"rotation {outcome.before.flag or '(no flag)'} -> {outcome.after.flag}: 4 containers, "
        + ", ".join(f"{s.step} {s.seconds:.1f}s" for s in outcome.steps)
        + f"; total {outcome.seconds:.1f}s",
    )
    assert [s.step for s in outcome.steps] == list(sam_local.STEPS)
    for step in outcome.steps:
        assert step.payload is None, f"{step.step} returned {step.payload!r}"
        assert re.search(r"^REPORT RequestId: \S+", step.logs, re.MULTILINE), step.logs[-2000:]
        # The function logged from inside the container, as itself.
        assert '"function_name":"RotationFunction"' in step.logs, step.logs[-2000:]


def test_rotations_run_step_by_step_in_containers(rotation: sam_local.LocalRotation) -> None:
    names = ParameterNames(rotation.prefix)

    report(
        "sam local invoke",
        f"image {rotation.image}: built by container/build-image.sh from Debian packages (debootstrap"
        " bookworm minbase), pyenv's CPython 3.12 and PyPI (awslambdaric, boto3); no registry pulled",
    )
    # The service's configuration test (RotateImmediately=false) on the freshly adopted secret.
    tested = rotation.configuration_test()
    assert [(s.step, s.payload) for s in tested.steps] == [("testSecret", None)]
    assert "configuration test" in tested.steps[0].logs
    assert tested.after == tested.before and not any("AWSPENDING" in s for s in _stages(rotation).values())
    first = rotation.rotate()
    _check_steps(first)
    assert first.before.flag is None
    assert first.after.flag == "green"
    assert first.after.current_username == "app_green"
    assert _stages(rotation)[first.token] == ["AWSCURRENT"], "AWSPENDING stayed on the new version"
    assert login_as(_parameter(rotation, names.url("green", "writer")), connect_timeout=5) == "app_green"
    assert login_as(_parameter(rotation, names.url("blue", "writer")), connect_timeout=5) == "app"
    assert all("***" in url for url in first.after.urls.values())

    # Running it again rotates back: the flag returns to blue, blue has a new password.
    old_blue_url = _parameter(rotation, names.url("blue", "writer"))
    second = rotation.rotate()
    _check_steps(second)
    assert (second.before.flag, second.after.flag) == ("green", "blue")
    assert second.after.current_username == "app"
    new_blue_url = _parameter(rotation, names.url("blue", "writer"))
    assert parse_url(new_blue_url).password != parse_url(old_blue_url).password
    assert login_as(new_blue_url, connect_timeout=5) == "app"
    # The previous color keeps logging in with its previous password (AWSPREVIOUS).
    assert login_as(_parameter(rotation, names.url("green", "writer")), connect_timeout=5) == "app_green"


def test_consumer_reads_the_live_color_through_the_layer(rotation: sam_local.LocalRotation) -> None:
    flag = _parameter(rotation, ParameterNames(rotation.prefix).flag)
    outcome = rotation.consumer()
    payload = outcome.payload
    assert payload["color"] == flag
    assert payload["layer"] == "/opt/python/bluegreen_db/__init__.py"
    user = "app" if flag == "blue" else "app_green"
    assert payload["login"] == {"checked": True, "current_user": f"{user}@%"}
    assert "***" in payload["writer"] and "***" in payload["reader"]
    assert "REPORT RequestId" in outcome.logs


def test_image_tag_follows_the_recipe(rotation: sam_local.LocalRotation, tmp_path: Path) -> None:
    assert rotation.image == sam_local.image_tag()
    recipe = Path(sam_local.REPO_ROOT / "container")
    copy = tmp_path / "container"
    copy.mkdir()
    for name in ("build-image.sh", "bootstrap"):
        (copy / name).write_bytes((recipe / name).read_bytes())
    same = _print_tag(copy)
    assert same == rotation.image
    (copy / "bootstrap").write_text((recipe / "bootstrap").read_text() + "# changed\n")
    changed = _print_tag(copy)
    assert changed and changed != rotation.image


def _print_tag(recipe: Path) -> str:
    """The tag the recipe's build script prints; a failing script fails the test, not the comparison."""
    done = subprocess.run(["bash", recipe / "build-image.sh", "--print-tag"], capture_output=True, text=True)
    assert done.returncode == 0, f"build-image.sh --print-tag exited {done.returncode}: {done.stderr}"
    return done.stdout.strip()


def test_engine_cleans_up_after_a_failure(engine_available: None) -> None:
    with pytest.raises(RuntimeError, match="boom"), sam_local.docker_engine() as engine:
        assert sam_local._docker_ping(engine.socket)
        raise RuntimeError("boom")
    _assert_engine_gone(engine)


def _pg_login_as(url: str) -> str:
    """Logs in with a PostgreSQL URL's credentials over TLS; returns ``current_user``."""
    with pg_connect(url, sslmode="require") as conn:
        row = conn.execute("SELECT current_user").fetchone()
    assert row is not None
    return str(row[0])


def test_a_postgresql_secret_rotates_in_containers_and_its_consumer_logs_in(engine_available: None) -> None:
    """``make invoke ENGINE=postgres``, one rotation: the same function in the same containers picks
    the engine from the secret, and the example consumer logs in through psycopg."""
    with sam_local.local_rotation(db_engine="postgresql") as local:
        engine, db = local.engine, local.db
        names = ParameterNames(local.prefix)
        outcome = local.rotate()
        _check_steps(outcome)
        assert (outcome.before.flag, outcome.after.flag) == (None, "green")
        green_url = _parameter(local, names.url("green", "writer"))
        assert green_url.startswith("postgresql+psycopg://app_green:")
        assert _pg_login_as(green_url) == "app_green"
        assert _pg_login_as(_parameter(local, names.url("blue", "writer"))) == "app"
        consumer = local.consumer()
        assert consumer.payload["color"] == "green"
        assert consumer.payload["login"] == {"checked": True, "current_user": "app_green"}
        report("sam local invoke", f"PostgreSQL rotation: total {outcome.seconds:.1f}s")
    _assert_engine_gone(engine)
    assert db.process is None, "the PostgreSQL server still runs"
