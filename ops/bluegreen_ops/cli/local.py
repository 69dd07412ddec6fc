"""``bluegreen local up|down|env``: the persistent local stack the runbook's examples run against.

``up`` prints only ``export`` lines on stdout (progress goes to stderr), so
``eval "$(bluegreen local up)"`` sets the shell up in one line; ``down`` prints the matching ``unset``.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..devstack import persistent_stack as local_stack
from ..devstack.engines import ALIASES, local_engine
from ..devstack.moto_server import MissingExtraError, require_moto
from ..exit_codes import EXIT_FAILURE
from ..operations.adopt import adopt_secret


def _state_dir(value: str | None) -> Path:
    return Path(value) if value else local_stack.default_state_dir()


STATE_DIR_OPTION = click.option(
    "--state-dir",
    default=None,
    metavar="DIR",
    help="Where the stack keeps its pid files, CA and data (default: BLUEGREEN_LOCAL_DIR, else "
    "$XDG_RUNTIME_DIR/bluegreen-local, else ./.bluegreen-local).",
)


@click.group("local")
def local() -> None:
    """A persistent local stack (MariaDB or PostgreSQL with TLS + moto) with an adopted demo/aurora secret.

    eval "$(bluegreen local up)"   then   bluegreen status --secret-id demo/aurora
    """


@local.command("up")
@STATE_DIR_OPTION
@click.option(
    "--grace-seconds",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="ROTATION_GRACE_SECONDS to export (no consumer waits on the local stack).",
)
@click.option(
    "--engine",
    type=click.Choice(sorted(ALIASES), case_sensitive=False),
    default="mariadb",
    show_default=True,
    help="The database server demo/aurora lives on: MariaDB (aurora-mysql) or PostgreSQL 15 (postgres).",
)
def up_command(state_dir: str | None, grace_seconds: int, engine: str) -> None:
    """Start the stack (or find it running) and print the environment to export."""
    directory = _state_dir(state_dir)
    try:
        require_moto("`bluegreen local up`")
    except MissingExtraError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_FAILURE) from None
    try:
        state, started = local_stack.up(
            directory,
            adopt=adopt_secret,
            grace_seconds=grace_seconds,
            progress=lambda m: click.echo(m, err=True),
            engine=local_engine(engine),
        )
    except (local_stack.StackError, RuntimeError, OSError) as exc:
        click.echo(f"error: cannot start the local stack: {exc}", err=True)
        raise SystemExit(EXIT_FAILURE) from None
    if not started:
        click.echo(f"the local stack in {state.state_dir} is already running ({state.engine})", err=True)
    click.echo(local_stack.exports(state.environment()))
    click.echo(f'# secret {local_stack.SECRET_NAME}; stop with: eval "$(bluegreen local down)"', err=True)


@local.command("env")
@STATE_DIR_OPTION
def env_command(state_dir: str | None) -> None:
    """Print the environment of the running stack (exit 1 if it is not running)."""
    directory = _state_dir(state_dir)
    state = local_stack.read_state(directory)
    if state is None or not local_stack.running(state):
        click.echo(f"error: no local stack is running in {directory}: `bluegreen local up`", err=True)
        raise SystemExit(EXIT_FAILURE)
    click.echo(local_stack.exports(state.environment()))


@local.command("down")
@STATE_DIR_OPTION
def down_command(state_dir: str | None) -> None:
    """Stop the database server and moto, delete the state directory, print the `unset` line."""
    directory = _state_dir(state_dir)
    stopped = local_stack.down(directory)
    click.echo(
        f"stopped the local stack in {directory}" if stopped else f"no local stack in {directory}", err=True
    )
    click.echo(local_stack.unsets())
