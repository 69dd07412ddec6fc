"""Where an operation says what it is doing, and registers the credentials it read.

Operations never print: they report to a :class:`Reporter`. The CLI's is its masked output
(``bluegreen_ops.cli.render.Output``); a library caller that wants silence passes :class:`Silent`.
"""

from __future__ import annotations

from typing import Protocol

from bluegreen_rotation.secret import DbSecret, MasterSecret


class Reporter(Protocol):
    """Progress lines for the operator, and the passwords they must never show."""

    def protect(self, *values: str | None) -> None: ...

    def protect_secret(self, secret: DbSecret | MasterSecret) -> None: ...

    def progress(self, message: str) -> None: ...


class Silent:
    """A reporter that says nothing: nothing is printed, so nothing needs masking."""

    def protect(self, *values: str | None) -> None:
        del values

    def protect_secret(self, secret: DbSecret | MasterSecret) -> None:
        del secret

    def progress(self, message: str) -> None:
        del message
