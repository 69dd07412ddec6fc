"""``bluegreen rollback``: AWSCURRENT and the flag back to AWSPREVIOUS."""

from __future__ import annotations

import click

from ..operations.rollback import rollback
from .error_handling import handle_errors
from .options import CommonOptions, build_env, common_options
from .render import report_outcome


@click.command("rollback")
@common_options
@click.option("--force", is_flag=True, help="Roll back even when the flag already disagrees with AWSCURRENT.")
@click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
@handle_errors
def rollback_command(
    options: CommonOptions,
    force: bool,
    dry_run: bool,
) -> None:
    """Move AWSCURRENT back to AWSPREVIOUS, and the flag with it.

    Only when AWSPREVIOUS's user (the other color) still logs in with its password: refused (exit 4)
    otherwise. Writes that color's URLs if needed, moves AWSCURRENT, then flips the flag.
    """
    env, out = build_env(options)
    outcome = rollback(env, force=force, dry_run=dry_run)
    report_outcome(
        out, outcome, "rolled back", f"AWSCURRENT and the flag are {outcome.color} ({outcome.user})"
    )
