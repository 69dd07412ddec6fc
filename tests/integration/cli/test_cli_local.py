"""`bluegreen local up|env|down`: a detached stack that outlives the command, and nothing left after down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bluegreen_ops.devstack import persistent_stack as local_stack
from bluegreen_ops.devstack.postgresql import PG_BIN
from tests.availability import skip_unless_available


def _bluegreen() -> Path:
    found = Path(sys.executable).parent / "bluegreen"
    if not found.exists():
        skip_unless_available("the bluegreen console script is not installed (make deps)")
    return found


def _runs(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def _parse_exports(text: str) -> dict[str, str]:
    out = subprocess.run(
        ["bash", "-c", f"{text}\nenv -0"], capture_output=True, check=True, env={"PATH": os.environ["PATH"]}
    ).stdout
    return dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)


@pytest.mark.slow
def test_local_up_twice_then_down_leaves_nothing_running(tmp_path):
    bluegreen = _bluegreen()
    state_dir = tmp_path / "stack"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DB_", "PARAMETER_", "BLUEGREEN_"))
    }
    run = [str(bluegreen), "local"]
    first = subprocess.run(
        [*run, "up", "--state-dir", str(state_dir)], env=env, capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    state = local_stack.read_state(state_dir)
    assert state is not None and local_stack.running(state)  # outlived the command that started it
    try:
        exported = _parse_exports(first.stdout)
        assert exported["AWS_ENDPOINT_URL"] == state.endpoint
        assert exported["PARAMETER_PREFIX"] == "/db/demo"
        assert exported["DB_TLS_MODE"] == "verify-full" and Path(exported["DB_TLS_CA_FILE"]).is_file()
        assert exported["BLUEGREEN_LOCAL_DIR"] == str(state_dir.resolve())

        again = subprocess.run(
            [*run, "up", "--state-dir", str(state_dir)], env=env, capture_output=True, text=True
        )
        assert again.returncode == 0 and "already running" in again.stderr
        assert again.stdout == first.stdout

        status = subprocess.run(
            [str(bluegreen), "status", "--secret-id", "demo/aurora", "--output", "json"],
            env=env | exported,
            capture_output=True,
            text=True,
        )
        assert status.returncode == 0, status.stdout + status.stderr  # adopted, consistent, over TLS
    finally:
        down = subprocess.run(
            [*run, "down", "--state-dir", str(state_dir)], env=env, capture_output=True, text=True
        )
    assert down.returncode == 0 and down.stdout.startswith("unset AWS_ENDPOINT_URL")
    assert not state_dir.exists()
    assert not _runs(state.db_pid) and not _runs(state.moto_pid)  # no mariadbd, no moto server
    gone = subprocess.run(
        [*run, "env", "--state-dir", str(state_dir)], env=env, capture_output=True, text=True
    )
    assert gone.returncode == 1 and "no local stack is running" in gone.stderr


@pytest.mark.slow
def test_local_up_on_postgresql_rotates_locally_then_down_leaves_nothing(tmp_path):
    """``--engine postgres``: the server's own directory lives outside the state directory (its OS
    user must traverse every parent) and goes with ``down``; the stack rotates like MariaDB's."""
    if not (PG_BIN / "postgres").exists():
        skip_unless_available(f"{PG_BIN}/postgres is missing: install Debian's postgresql-15")
    bluegreen = _bluegreen()
    state_dir = tmp_path / "stack"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DB_", "PARAMETER_", "BLUEGREEN_"))
    }
    run = [str(bluegreen), "local"]
    up = subprocess.run(
        [*run, "up", "--engine", "postgres", "--state-dir", str(state_dir)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert up.returncode == 0, up.stderr
    state = local_stack.read_state(state_dir)
    assert state is not None and state.engine == "postgresql" and local_stack.running(state)
    try:
        exported = _parse_exports(up.stdout)
        assert exported["DB_TLS_CA_FILE"] == str(Path(state.db_dir) / "tls" / "ca.pem")
        rotated = subprocess.run(
            [str(bluegreen), "rotate-now", "--local", "--secret-id", "demo/aurora"],
            env=env | exported,
            capture_output=True,
            text=True,
        )
        assert rotated.returncode == 0, rotated.stdout + rotated.stderr
        status = subprocess.run(
            [str(bluegreen), "status", "--secret-id", "demo/aurora", "--output", "json"],
            env=env | exported,
            capture_output=True,
            text=True,
        )
        assert status.returncode == 0, status.stdout + status.stderr
        assert '"green"' in status.stdout and "postgresql+psycopg://" in status.stdout
    finally:
        down = subprocess.run(
            [*run, "down", "--state-dir", str(state_dir)], env=env, capture_output=True, text=True
        )
    assert down.returncode == 0
    assert not state_dir.exists() and not Path(state.db_dir).exists()
    assert not _runs(state.db_pid) and not _runs(state.moto_pid)
