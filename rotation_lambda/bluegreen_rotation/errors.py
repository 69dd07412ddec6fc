"""Errors the function raises on purpose.

Every message names the problem and never carries a password or a credential-bearing URL: these
texts end up in CloudWatch, in Secrets Manager's rotation failure reason and in tracebacks.
"""

from __future__ import annotations


class RotationError(Exception):
    """Base class: a rotation step that must fail (Secrets Manager retries the rotation later)."""


class InvalidInputError(RotationError):
    """The event, the secret or the configuration is wrong; nothing was changed."""


class RotationRefusedError(RotationError):
    """A safety guard refused to change a password (the user may be in use); nothing was changed."""


class DatabaseError(RotationError):
    """The database refused or failed an operation; the message says which and why."""

    code: int | None = None  # the server's error number, when it gave one: for messages and logs;
    # a refused login is the type engines.base.LoginDenied, never a code to compare


class TimeBudgetError(RotationError):
    """Too little Lambda time is left to start a slow operation safely."""
