"""``bluegreen repair``: the database and the URLs made to match the stages again."""

from __future__ import annotations

import click

from ..operations.repair import repair
from .error_handling import handle_errors
from .options import CommonOptions, build_env, common_options
from .render import report_outcome


@click.command("repair")
@common_options
@click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
@handle_errors
def repair_command(
    options: CommonOptions,
    dry_run: bool,
) -> None:
    """Make the database and each color's URLs match the stages again (no stage or flag moves).

    AWSCURRENT's color from AWSCURRENT, the other color from AWSPREVIOUS: a user whose password was
    changed outside the rotation gets the stage's password back (as the master user), and missing or
    wrong URLs are rewritten, each only after its credentials logged in. A color owned by an
    unfinished rotation is left alone.
    """
    env, out = build_env(options)
    outcome = repair(env, dry_run=dry_run)
    report_outcome(out, outcome, "repaired", f"{outcome.color} is AWSCURRENT ({outcome.user})")
