"""``bluegreen adopt``: publish an existing secret's AWSCURRENT as the flag and its URLs."""

from __future__ import annotations

import click

from ..operations.adopt import adopt
from .error_handling import handle_errors
from .options import CommonOptions, build_env, common_options
from .render import report_outcome


@click.command("adopt")
@common_options
@click.option("--force", is_flag=True, help="Overwrite a flag that names the other color (or holds garbage).")
@click.option("--dry-run", is_flag=True, help="Say what would be written; write nothing.")
@handle_errors
def adopt_command(
    options: CommonOptions,
    force: bool,
    dry_run: bool,
) -> None:
    """Write the flag and AWSCURRENT's URLs for an existing secret (idempotent).

    Verifies that AWSCURRENT's credentials log in before writing anything. Refuses (exit 4) to
    overwrite a flag naming another color without --force.
    """
    env, out = build_env(options)
    outcome = adopt(env, force=force, dry_run=dry_run)
    report_outcome(out, outcome, "adopted", f"{outcome.color} ({outcome.user}) under {outcome.prefix}")
