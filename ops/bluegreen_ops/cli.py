"""``bluegreen``: the operator CLI of the blue/green rotation.

Commands: ``status``, ``rotate-now``, ``adopt``, ``rollback``, ``repair``, ``local up|down|env``.
AWS CLI conventions: ``--secret-id``,
``--region``, ``--profile``, ``--output json|table``; clients are plain boto3 clients, so
``AWS_ENDPOINT_URL`` points them at a local stack. The database TLS settings, the URL scheme, the
grace period and the default parameter prefix come from the same variables as the function's.

Exit codes: 0 ok (status: consistent), 1 failure, 2 usage, 3 status found an inconsistent state,
4 refused by a safety check (nothing changed). With ``--output json`` every outcome, usage errors
included, is exactly one JSON document on stdout (docs/cli-json.md). See docs/runbook.md.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from bluegreen_rotation.config import Settings

from . import cli_local, cli_rotate
from .cli_common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Env,
    Output,
    RefusedError,
    build_env,
    common_options,
    describe,
    error_document,
    format_duration,
    handle_errors,
)
from .cli_repair import Outcome, adopt, repair, rollback
from .cli_status import inspect, to_document, to_table

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


def wants_json(argv: Sequence[str]) -> bool:
    """``--output json`` (or ``--output=json``) anywhere on the command line."""
    args = list(argv)
    return "--output=json" in args or any(
        a == "--output" and i + 1 < len(args) and args[i + 1] == "json" for i, a in enumerate(args)
    )


class JsonAwareGroup(click.Group):
    """Click's usage errors as a JSON error document too, when the command line asks for JSON.

    Click reports them before any command runs (unknown option, missing --secret-id), so the
    commands' own error handling never sees them.
    """

    def main(self, args: Sequence[str] | None = None, *a: Any, **kw: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not wants_json(argv) or kw.get("standalone_mode") is False:
            return super().main(argv, *a, **kw)
        kw["standalone_mode"] = False
        try:
            code = super().main(argv, *a, **kw)
        except click.UsageError as exc:
            exc.show()  # click's usage text and error line, on stderr as always
            click.echo(json.dumps(error_document(exc.format_message(), EXIT_USAGE), indent=2))
            sys.exit(EXIT_USAGE)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(EXIT_FAILURE)
        sys.exit(code if isinstance(code, int) else EXIT_OK)


@click.group(cls=JsonAwareGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="bluegreen-rotation", prog_name="bluegreen")
def main() -> None:
    """Operate the blue/green rotation of an Aurora MySQL secret and its Parameter Store mirror.

    Exit codes: 0 ok/consistent, 1 failure, 2 usage, 3 inconsistent state (status), 4 refused.
    """


@main.command()
@common_options
@click.option(
    "--skip-db", is_flag=True, help="Do not connect to the database (no session counts or login checks)."
)
@handle_errors
def status(
    secret_id: str,
    region: str | None,
    profile: str | None,
    parameter_prefix: str | None,
    output: str,
    skip_db: bool,
) -> None:
    """Show versions, flag, URLs, sessions and grace, and a verdict: consistent, or what is wrong.

    Exit 0 when consistent, 3 when inconsistent, 1 when a check could not be made.
    """
    env = build_env(secret_id, region, profile, parameter_prefix, output)
    report = inspect(env, check_db=not skip_db)
    if env.out.json:
        env.out.document(to_document(report))
    else:
        for line in to_table(report):
            env.out.line(line)
    click.get_current_context().exit(report.exit_code)


@main.command("rotate-now")
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
    secret_id: str,
    region: str | None,
    profile: str | None,
    parameter_prefix: str | None,
    output: str,
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
    env = build_env(secret_id, region, profile, parameter_prefix, output)
    out = env.out
    meta = describe(env)
    if not local:
        cli_rotate.refuse_emulator(env, meta)
    cli_rotate.check_not_in_progress(meta, token, local)
    if rotate_later:
        with cli_rotate.function_environment(region, profile, verbose):
            message = cli_rotate.configuration_test(env, meta, local, out.progress)
        if out.json:
            out.document({"finished": True, "message": message})
        else:
            out.line(message)
        click.get_current_context().exit(EXIT_OK)
    if not (token and token == meta.stuck_pending):
        cli_rotate.preflight(env, meta, local=local, force=force)
    if local:
        out.progress(f"rotating {meta.arn} in this process (--local)")
        with cli_rotate.function_environment(region, profile, verbose):
            token = cli_rotate.run_local(env, meta, token, attempts, out.progress)
        # The steps are over: read the outcome once, without replaying milestones already printed.
        watcher = cli_rotate.RotationWatcher(env, token, timeout=0, interval=0, report=lambda _: None)
        result = watcher.watch()
    else:
        token = cli_rotate.start_on_aws(env, meta, token)
        out.progress(f"RotateSecret accepted: rotation {token} started; following it (up to {timeout:.0f}s)")
        watcher = cli_rotate.RotationWatcher(env, token, timeout=timeout, interval=interval)
        try:
            result = watcher.watch()
        except KeyboardInterrupt:
            raise CliError(
                f"stopped following rotation {token}; it goes on in Secrets Manager: "
                f"`bluegreen status --secret-id {env.sid}` shows where it is",
                code="interrupted",
            ) from None
    if out.json:
        out.document(result.as_dict())
    else:
        out.line(f"{result.message} ({format_duration(result.seconds)})")
    click.get_current_context().exit(result.exit_code)


@main.command("adopt")
@common_options
@click.option("--force", is_flag=True, help="Overwrite a flag that names the other color (or holds garbage).")
@click.option("--dry-run", is_flag=True, help="Say what would be written; write nothing.")
@handle_errors
def adopt_command(
    secret_id: str,
    region: str | None,
    profile: str | None,
    parameter_prefix: str | None,
    output: str,
    force: bool,
    dry_run: bool,
) -> None:
    """Write the flag and AWSCURRENT's URLs for an existing secret (idempotent).

    Verifies that AWSCURRENT's credentials log in before writing anything. Refuses (exit 4) to
    overwrite a flag naming another color without --force.
    """
    env = build_env(secret_id, region, profile, parameter_prefix, output)
    outcome = adopt(env, force=force, dry_run=dry_run)
    _report(env.out, outcome, "adopted", f"{outcome.color} ({outcome.user}) under {outcome.prefix}")


@main.command("rollback")
@common_options
@click.option("--force", is_flag=True, help="Roll back even when the flag already disagrees with AWSCURRENT.")
@click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
@handle_errors
def rollback_command(
    secret_id: str,
    region: str | None,
    profile: str | None,
    parameter_prefix: str | None,
    output: str,
    force: bool,
    dry_run: bool,
) -> None:
    """Move AWSCURRENT back to AWSPREVIOUS, and the flag with it.

    Only when AWSPREVIOUS's user (the other color) still logs in with its password: refused (exit 4)
    otherwise. Writes that color's URLs if needed, moves AWSCURRENT, then flips the flag.
    """
    env = build_env(secret_id, region, profile, parameter_prefix, output)
    outcome = rollback(env, force=force, dry_run=dry_run)
    _report(env.out, outcome, "rolled back", f"AWSCURRENT and the flag are {outcome.color} ({outcome.user})")


@main.command("repair")
@common_options
@click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
@handle_errors
def repair_command(
    secret_id: str,
    region: str | None,
    profile: str | None,
    parameter_prefix: str | None,
    output: str,
    dry_run: bool,
) -> None:
    """Make the database and each color's URLs match the stages again (no stage or flag moves).

    AWSCURRENT's color from AWSCURRENT, the other color from AWSPREVIOUS: a user whose password was
    changed outside the rotation gets the stage's password back (as the master user), and missing or
    wrong URLs are rewritten, each only after its credentials logged in. A color owned by an
    unfinished rotation is left alone.
    """
    env = build_env(secret_id, region, profile, parameter_prefix, output)
    outcome = repair(env, dry_run=dry_run)
    _report(env.out, outcome, "repaired", f"{outcome.color} is AWSCURRENT ({outcome.user})")


main.add_command(cli_local.local)


def _report(out: Output, outcome: Outcome, verb: str, state: str) -> None:
    if out.json:
        out.document(outcome.as_dict())
        return
    if outcome.dry_run:
        out.line("dry run: nothing written")
        for change in outcome.changes or ["(nothing to change)"]:
            out.line(f"  would change {change}")
    elif outcome.changes:
        out.line(f"{verb}: {state}; changed {len(outcome.changes)}: " + "; ".join(outcome.changes))
    else:
        out.line(f"already {verb}: {state}; nothing changed")
    for note in outcome.notes:
        out.line(f"note: {note}")


def adopt_secret(
    sm: SecretsManagerClient,
    ssm: SSMClient,
    secret_id: str,
    *,
    prefix: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    settings: Settings | None = None,
) -> Outcome:
    """``bluegreen adopt`` as a function (demo, tests): the same checks and writes, no output.

    Raises :class:`RefusedError` when a safety check refuses, :class:`CliError` on other failures.
    """
    env = Env(
        secret_id=secret_id,
        out=Output(quiet=True),
        settings=settings or Settings.from_env(),
        sm=sm,
        ssm=ssm,
        prefix_option=prefix,
    )
    return adopt(env, force=force, dry_run=dry_run)


__all__ = ["CliError", "Outcome", "RefusedError", "adopt_secret", "main"]


if __name__ == "__main__":
    main()
