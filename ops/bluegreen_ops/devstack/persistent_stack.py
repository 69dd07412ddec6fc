"""A persistent local stack to practise on: MariaDB (or PostgreSQL 15, ``engine="postgresql"``) with
TLS and moto's server, detached, plus an adopted ``demo/aurora`` secret.

``bluegreen local up`` starts it and prints the environment to export; ``bluegreen local down`` stops
both servers by their pid files and deletes the state directory, so nothing is left running. The
same :class:`~bluegreen_ops.devstack.mariadb.MariaDB` and moto server as the tests, only not tied to the
lifetime of the process that started them. The secret is adopted by the caller's ``adopt`` (the
CLI passes :func:`bluegreen_ops.operations.adopt.adopt_secret`), so this stand-in needs nothing of
the operations above it.

State directory: ``--state-dir``, else ``BLUEGREEN_LOCAL_DIR``, else ``$XDG_RUNTIME_DIR/bluegreen-local``,
else ``.bluegreen-local`` in the current directory. It holds ``stack.json`` (ports and pids), the
generated CA, MariaDB's data directory and moto's log. PostgreSQL's directory (data, CA) is a temp dir
named in ``stack.json``: its server runs as the postgres OS user, who may not traverse the state
directory's parents; ``down`` removes it too.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess  # nosec B404
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import boto3

from bluegreen_rotation.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

from .engines import LocalEngine
from .environ import patched_environ
from .mariadb import MariaDB
from .moto_server import REGION, aws_environment
from .network import free_port
from .postgresql import PostgreSQL
from .seeding import seed_application
from .tls import make_tls_files


class Adopter(Protocol):
    """Publishes a secret's AWSCURRENT under ``prefix`` (``bluegreen adopt`` as a function)."""

    def __call__(
        self, sm: SecretsManagerClient, ssm: SSMClient, secret_id: str, *, prefix: str, settings: Settings
    ) -> object: ...


SECRET_NAME = "demo/aurora"  # noqa: S105 # nosec B105 - a secret's name, not a password
PREFIX = "/db/demo"
STATE_FILE = "stack.json"
ENV_NAMES = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "PARAMETER_PREFIX",
    "DB_TLS_MODE",
    "DB_TLS_CA_FILE",
    "ROTATION_GRACE_SECONDS",
    "BLUEGREEN_LOCAL_DIR",
)


class StackError(RuntimeError):
    """The local stack could not be started or stopped; the message says why."""


@dataclass
class StackState:
    state_dir: str
    db_port: int
    db_pid: int
    moto_port: int
    moto_pid: int
    grace_seconds: int
    secret_arn: str | None = None  # set once demo/aurora is created (pid files are written before)
    engine: LocalEngine = "mysql"
    # PostgreSQL's own directory: a temp dir outside the state directory, because the server runs as
    # the postgres OS user, who must be able to traverse every parent of its data directory.
    db_dir: str = ""

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def ca_file(self) -> Path:
        """The run's CA: MariaDB's is made in ``tls/``, PostgreSQL makes its own in its directory."""
        return Path(self.db_dir or self.state_dir) / "tls" / "ca.pem"

    @property
    def db_marker(self) -> str:
        """What the database server's command line names (its data directory's parent)."""
        return self.db_dir or self.state_dir

    def environment(self) -> dict[str, str]:
        return aws_environment(self.endpoint) | {
            "PARAMETER_PREFIX": PREFIX,
            "DB_TLS_MODE": "verify-full",
            "DB_TLS_CA_FILE": str(self.ca_file),
            "ROTATION_GRACE_SECONDS": str(self.grace_seconds),
            "BLUEGREEN_LOCAL_DIR": self.state_dir,
        }


def default_state_dir() -> Path:
    explicit = os.environ.get("BLUEGREEN_LOCAL_DIR")
    if explicit:
        return Path(explicit)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "bluegreen-local"
    return Path.cwd() / ".bluegreen-local"


def exports(env: dict[str, str]) -> str:
    """``export NAME=value`` lines for ``eval "$(bluegreen local up)"``."""
    return "\n".join(f"export {name}={shlex.quote(env[name])}" for name in ENV_NAMES if name in env)


def unsets() -> str:
    return "unset " + " ".join(ENV_NAMES)


def read_state(state_dir: Path) -> StackState | None:
    path = state_dir / STATE_FILE
    if not path.is_file():
        return None
    return StackState(**json.loads(path.read_text()))


def _alive(pid: int, marker: str) -> bool:
    """The pid runs and its command line names ``marker`` (a pid reused by another program is not ours)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return marker in cmdline


def running(state: StackState) -> bool:
    return _alive(state.db_pid, state.db_marker) and _alive(state.moto_pid, f"-p {state.moto_port}")


def _wait_for_port(port: int, timeout: float, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise StackError(f"moto's server exited early: {log.read_text(errors='replace')[-1500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise StackError(
                    f"moto's server did not listen on port {port} within {timeout:.0f}s"
                ) from None
            time.sleep(0.1)


def up(
    state_dir: Path,
    *,
    adopt: Adopter,
    grace_seconds: int = 0,
    progress: object = None,
    engine: LocalEngine = "mysql",
) -> tuple[StackState, bool]:
    """Starts the stack (or finds it running); returns its state and whether it was started now.

    A stack already running is returned as it is, whatever its engine (``state.engine`` says which).
    """
    say = progress if callable(progress) else (lambda _msg: None)
    existing = read_state(state_dir)
    if existing is not None:
        if running(existing):
            return existing, False
        say(f"a previous local stack in {state_dir} is not running any more: cleaning it up")
        down(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir = state_dir.resolve()
    db: MariaDB | PostgreSQL
    if engine == "postgresql":
        db = PostgreSQL(detached=True)
        say(f"starting PostgreSQL 15 (TLS, CA {db.workdir / 'tls' / 'ca.pem'}) ...")
    else:
        say(f"starting MariaDB (TLS, CA {state_dir / 'tls' / 'ca.pem'}) ...")
        db = MariaDB(tls=make_tls_files(state_dir / "tls"), workdir=state_dir / "mariadb", detached=True)
    moto_process: subprocess.Popen[bytes] | None = None
    try:
        db.start()
        if db.process is None:
            raise StackError("the database server did not start")
        moto_port = free_port()
        log = state_dir / "moto.log"
        say(f"starting moto's server on 127.0.0.1:{moto_port} ...")
        with log.open("wb") as out:
            moto_process = subprocess.Popen(  # noqa: S603 # nosec B603 - our interpreter, fixed args
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        _wait_for_port(moto_port, 30, moto_process, log)
        state = StackState(
            state_dir=str(state_dir),
            db_port=db.port,
            db_pid=db.process.pid,
            moto_port=moto_port,
            moto_pid=moto_process.pid,
            grace_seconds=grace_seconds,
            engine=engine,
            db_dir=str(db.workdir) if isinstance(db, PostgreSQL) else "",
        )
        (state_dir / STATE_FILE).write_text(json.dumps(asdict(state), indent=2))
        state.secret_arn = _seed(db, state, adopt)
        (state_dir / STATE_FILE).write_text(json.dumps(asdict(state), indent=2))
    except BaseException:
        if moto_process is not None:
            _stop(moto_process.pid, "moto.server")
        if db.process is not None:
            _stop(db.process.pid, str(db.workdir))
        if isinstance(db, PostgreSQL):
            shutil.rmtree(db.workdir, ignore_errors=True)
        shutil.rmtree(state_dir, ignore_errors=True)
        raise
    say(f"adopted {SECRET_NAME} ({state.secret_arn}) under {PREFIX}")
    return state, True


def _seed(db: MariaDB | PostgreSQL, state: StackState, adopt: Adopter) -> str:
    """Creates ``demo/aurora`` (user ``app``, database ``appdb``) and adopts it, as an operator would."""
    env = state.environment()
    with patched_environ(env):
        sm = boto3.client("secretsmanager", region_name=REGION)
        ssm = boto3.client("ssm", region_name=REGION)
        app = seed_application(db, sm, name=SECRET_NAME, username="app", dbname="appdb")
        settings = Settings.from_env(env)
        adopt(sm, ssm, app.secret_arn, prefix=PREFIX, settings=settings)
    return app.secret_arn


def _stop(pid: int, marker: str, timeout: float = 30) -> None:
    if not _alive(pid, marker):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while _alive(pid, marker):
        _reap(pid)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
            _reap(pid)
            return
        time.sleep(0.1)


def _reap(pid: int) -> None:
    """Collects our own child's exit status (a zombie still shows in /proc)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def down(state_dir: Path) -> bool:
    """Stops both servers and deletes the state directory; False when there was nothing to stop."""
    state = read_state(state_dir)
    if state is None:
        existed = state_dir.exists()
        shutil.rmtree(state_dir, ignore_errors=True)
        return existed
    _stop(state.moto_pid, f"-p {state.moto_port}")
    _stop(state.db_pid, state.db_marker)
    if state.db_dir:
        shutil.rmtree(state.db_dir, ignore_errors=True)
    shutil.rmtree(state_dir, ignore_errors=True)
    return True


__all__ = ["PREFIX", "SECRET_NAME", "StackError", "StackState", "default_state_dir", "down", "exports", "up"]
