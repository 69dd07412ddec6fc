"""``bluegreen rotate-now``: start a rotation (on AWS, or in this process with ``--local``) and follow it."""

from __future__ import annotations

import click

from ..devstack.moto_server import MissingExtraError, require_moto
from ..exit_codes import EXIT_OK
from ..operations.durations import format_duration
from ..operations.errors import OperationError
from ..operations.local_rotation import function_environment, run_local
from ..operations.rotate_now import (
    check_not_in_progress,
    configuration_test,
    preflight,
    refuse_emulator,
    start_on_aws,
)
from ..operations.secret_reads import describe
from ..operations.watcher import RotationWatcher
from .error_handling import handle_errors
from .options import CommonOptions, build_env, common_options, output_for


@click.command("rotate-now")
@common_options
@click.option(
    "--local", is_flag=True, help="Run the four steps in this process (for emulators such as moto)."
)
@click.option(
    "--token", default=None, help="ClientRequestToken: resume (retry) the rotation with this version id."
)
@click.option(
    "--timeout", type=click.FloatRange(min=1), default=600, show_default=True, help="Seconds to follow it."
)
@click.option(
    "--interval", type=click.FloatRange(min=0.1), default=5, show_default=True, help="Seconds between polls."
)
@click.option(
    "--attempts",
    type=click.IntRange(min=1, max=10),
    default=1,
    show_default=True,
    help="--local: whole-rotation attempts (the service makes several).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Not with --local: call RotateSecret even though this shell's settings predict that setSecret "
    "refuses (when the function's ROTATION_GRACE_SECONDS/ACTIVE_SESSION_POLICY differ).",
)
@click.option("--verbose", is_flag=True, help="--local: show the function's INFO logs (on stderr).")
@click.option(
    "--rotate-later",
    is_flag=True,
    help="Configure, rotate later: RotateImmediately=false, the service's configuration test only "
    "(testSecret on a copy of AWSCURRENT; nothing changes).",
)
@handle_errors
def rotate_now(
    options: CommonOptions,
    local: bool,
    token: str | None,
    timeout: float,
    interval: float,
    attempts: int,
    force: bool,
    verbose: bool,
    rotate_later: bool,
) -> None:
    """Rotate now: RotateSecret, then follow the stages and the flag until the rotation finishes.

    With --local, the function's four steps run here through the rotation driver instead, against
    whatever endpoints the environment names.
    """
    if local:
        output_for(options)  # the error below is rendered in the format asked for
        try:
            require_moto("`bluegreen rotate-now --local`")
        except MissingExtraError as exc:
            raise OperationError(str(exc)) from None
    env, out = build_env(options)
    meta = describe(env)
    if not local:
        refuse_emulator(env, meta)
    check_not_in_progress(meta, token, local)
    if rotate_later:
        with function_environment(options.region, options.profile, verbose):
            message = configuration_test(env, meta, local, out.progress)
        if out.json:
            out.document({"finished": True, "message": message})
        else:
            out.line(message)
        click.get_current_context().exit(EXIT_OK)
    if not (token and token == meta.stuck_pending):
        preflight(env, meta, local=local, force=force)
    if local:
        out.progress(f"rotating {meta.arn} in this process (--local)")
        with function_environment(options.region, options.profile, verbose):
            token = run_local(env, meta, token, attempts, out.progress)
        # The steps are over: read the outcome once, without replaying milestones already printed.
        watcher = RotationWatcher(env, token, timeout=0, interval=0, report=lambda _: None)
        result = watcher.watch()
    else:
        token = start_on_aws(env, meta, token)
        out.progress(f"RotateSecret accepted: rotation {token} started; following it (up to {timeout:.0f}s)")
        watcher = RotationWatcher(env, token, timeout=timeout, interval=interval)
        try:
            result = watcher.watch()
        except KeyboardInterrupt:
            raise OperationError(
                f"stopped following rotation {token}; it goes on in Secrets Manager: "
                f"`bluegreen status --secret-id {env.sid}` shows where it is",
                code="interrupted",
            ) from None
    if out.json:
        out.document(result.as_dict())
    else:
        out.line(f"{result.message} ({format_duration(result.seconds)})")
    click.get_current_context().exit(result.exit_code)
