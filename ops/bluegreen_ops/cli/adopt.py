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
@click.option(
    "--shared-owner",
    metavar="ROLE",
    help="PostgreSQL: first move AWSCURRENT's user's objects to this NOLOGIN owner role (created if "
    "missing) and make both colors its members, so the user can get a twin. Run as the master user.",
)
@handle_errors
def adopt_command(
    options: CommonOptions,
    force: bool,
    dry_run: bool,
    shared_owner: str | None,
) -> None:
    """Write the flag and AWSCURRENT's URLs for an existing secret (idempotent).

    Verifies that AWSCURRENT's credentials log in before writing anything. Refuses (exit 4) to
    overwrite a flag naming another color without --force. With --shared-owner (PostgreSQL only), runs
    the one-time ownership migration first, in one transaction, listing each statement: CREATE ROLE
    ROLE NOLOGIN, REASSIGN OWNED BY <user> TO ROLE, GRANT ROLE TO <user>, <partner>, ALTER ROLE <user>
    SET role = 'ROLE'.
    """
    env, out = build_env(options)
    outcome = adopt(env, force=force, dry_run=dry_run, shared_owner=shared_owner)
    report_outcome(out, outcome, "adopted", f"{outcome.color} ({outcome.user}) under {outcome.prefix}")
