"""``bluegreen status``: the verdict on a secret, its mirror and its database users; ``--all``: on a fleet."""

from __future__ import annotations

import click

from ..operations.fleet import FleetMember, FleetSelector, list_fleet, parse_tag
from ..status.facts import inspect
from ..status.fleet import inspect_fleet
from ..status.render import to_document, to_fleet_document, to_fleet_table, to_table
from .error_handling import handle_errors
from .options import CommonOptions, build_env, common_options_secret_optional
from .render import Output


@click.command("status")
@common_options_secret_optional
@click.option(
    "--skip-db", is_flag=True, help="Do not connect to the database (no session counts or login checks)."
)
@click.option(
    "--all",
    "fleet",
    is_flag=True,
    help="Every secret of a fleet (with --tag or --function) instead of --secret-id: one line each.",
)
@click.option(
    "--tag",
    default=None,
    metavar="KEY=VALUE",
    help="With --all: the secrets tagged so (a bare VALUE means bluegreen-rotation=VALUE, the stack's tag).",
)
@click.option(
    "--function",
    default=None,
    metavar="NAME|ARN",
    help="With --all: the secrets whose rotation function (RotationLambdaARN) is this one.",
)
@handle_errors
def status(
    options: CommonOptions,
    skip_db: bool,
    fleet: bool,
    tag: str | None,
    function: str | None,
) -> None:
    """Show versions, flag, URLs, sessions and grace, and a verdict: consistent, or what is wrong.

    Exit 0 when consistent, 3 when inconsistent, 1 when a check could not be made; with --all, the
    worst of the fleet's secrets.
    """
    if fleet:
        _status_of_fleet(options, skip_db, tag, function)
        return
    if tag or function:
        raise click.UsageError("--tag and --function select a fleet: they go with --all")
    env, out = build_env(options)
    report = inspect(env, check_db=not skip_db)
    if out.json:
        out.document(to_document(report))
    else:
        for line in to_table(report):
            out.line(line)
    click.get_current_context().exit(report.exit_code)


def _status_of_fleet(options: CommonOptions, skip_db: bool, tag: str | None, function: str | None) -> None:
    if options.secret_id is not None:
        raise click.UsageError("--all lists the fleet's secrets itself: drop --secret-id")
    selector = FleetSelector(tag=parse_tag(tag) if tag else None, function=function)
    env, out = build_env(options, fleet=True)
    members = list_fleet(env.sm, selector)
    out.progress(f"{len(members)} secret(s) {selector.describe()}")
    fleet = inspect_fleet(
        env, selector, members, check_db=not skip_db, progress=lambda i, n, m: _progress(out, i, n, m)
    )
    if out.json:
        out.document(to_fleet_document(fleet))
    else:
        for line in to_fleet_table(fleet):
            out.line(line)
    click.get_current_context().exit(fleet.exit_code)


def _progress(out: Output, index: int, total: int, member: FleetMember) -> None:
    out.progress(f"[{index}/{total}] {member.name}")
