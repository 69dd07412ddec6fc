"""Masked, format-aware output: progress to stderr, results to stdout, JSON documents.

:class:`Output` masks every password the command has read (raw, percent-encoded and JSON-escaped)
and the password part of any URL, so a credential can reach the terminal only by a bug in two places
at once. Progress goes to stderr, results to stdout, so ``--output json`` stays parseable.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import click

from bluegreen_db.dburl import REDACTED
from bluegreen_rotation.secret import DbSecret, MasterSecret

if TYPE_CHECKING:
    pass
from ..exit_codes import ERROR_CODES
from ..operations.errors import Staged
from ..operations.writes import Outcome

# scheme://user:password@ -> scheme://user:***@ (any URL-shaped text, parsed or not)
_URL_CREDENTIALS_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@]*):[^\s@/]+@")
_MIN_MASKED_LENGTH = 4


class Output:
    """Masked, format-aware output: progress to stderr, results to stdout."""

    def __init__(self, fmt: str = "table", *, quiet: bool = False) -> None:
        self.format = fmt
        self.quiet = quiet
        self._secrets: set[str] = set()

    @property
    def json(self) -> bool:
        return self.format == "json"

    def protect(self, *values: str | None) -> None:
        """Registers credentials to mask wherever they would appear, in every encoding we print."""
        for value in values:
            if value and len(value) >= _MIN_MASKED_LENGTH:
                self._secrets.update({value, quote(value, safe=""), json.dumps(value)[1:-1]})

    def protect_secret(self, secret: DbSecret | MasterSecret) -> None:
        self.protect(secret.password)

    def mask(self, text: str) -> str:
        for value in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(value, REDACTED)
        return _URL_CREDENTIALS_RE.sub(rf"\1:{REDACTED}@", text)

    def progress(self, message: str) -> None:
        if not self.quiet:
            click.echo(self.mask(message), err=True)

    def line(self, message: str = "") -> None:
        """A result line (table mode); in JSON mode results are the document, so this goes to stderr."""
        click.echo(self.mask(message), err=self.json)

    def document(self, doc: Any) -> None:
        click.echo(self.mask(json.dumps(doc, indent=2, default=_json_default)))

    def error(self, message: str) -> None:
        click.echo(self.mask(f"error: {message}"), err=True)

    def fail(
        self, message: str, exit_status: int, code: str | None = None, staged: Staged | None = None
    ) -> None:
        """An error: the ``error:`` line on stderr; with ``--output json`` also the error document."""
        self.error(message)
        if self.json:
            self.document(error_document(message, exit_status, code, staged))


def error_document(
    message: str, exit_status: int, code: str | None = None, staged: Staged | None = None
) -> dict[str, Any]:
    """The one JSON document of a command that failed or was refused (docs/cli-json.md)."""
    return {
        "ok": False,
        "exitStatus": exit_status,
        "error": {
            "code": code or ERROR_CODES.get(exit_status, "failed"),
            "message": message,
            "staged": staged.as_dict() if staged else None,
        },
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def report_outcome(out: Output, outcome: Outcome, verb: str, state: str) -> None:
    """An adopt/rollback/repair outcome: its JSON document, or what changed (or would) in words."""
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
