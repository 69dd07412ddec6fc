"""The ``bluegreen`` command group: usage errors as JSON too, when the command line asks for JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click

from ..exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from .render import error_document

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
