"""``bluegreen status``: the verdict on a secret, its mirror and its database users."""

from __future__ import annotations

import click

from ..status.facts import inspect
from ..status.render import to_document, to_table
from .error_handling import handle_errors
from .options import CommonOptions, build_env, common_options


@click.command("status")
@common_options
@click.option(
    "--skip-db", is_flag=True, help="Do not connect to the database (no session counts or login checks)."
)
@handle_errors
def status(
    options: CommonOptions,
    skip_db: bool,
) -> None:
    """Show versions, flag, URLs, sessions and grace, and a verdict: consistent, or what is wrong.

    Exit 0 when consistent, 3 when inconsistent, 1 when a check could not be made.
    """
    env, out = build_env(options)
    report = inspect(env, check_db=not skip_db)
    if out.json:
        out.document(to_document(report))
    else:
        for line in to_table(report):
            out.line(line)
    click.get_current_context().exit(report.exit_code)
