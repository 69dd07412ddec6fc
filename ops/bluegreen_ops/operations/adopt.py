"""``bluegreen adopt``: publish an existing secret's AWSCURRENT (its color's URLs, then the flag)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bluegreen_rotation.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

from .env import Env
from .errors import RefusedError
from .reporting import Silent
from .secret_reads import describe
from .shared_owner import migrate_shared_owner
from .writes import Outcome, from_current, verify_login, write_flag, write_urls


def adopt(env: Env, *, force: bool, dry_run: bool, shared_owner: str | None = None) -> Outcome:
    """Writes the flag and AWSCURRENT's color's URLs for an existing secret; idempotent.

    A flag that names another color (or holds garbage) is overwritten only with ``force``: consumers
    follow the flag, so moving it moves them. With ``shared_owner`` (PostgreSQL), AWSCURRENT's user's
    objects first move to that shared owner role (:mod:`.shared_owner`), after the same checks, so a
    refused adopt migrates nothing.
    """
    meta = describe(env)
    current, mirror, state, outcome = from_current(env, meta, dry_run, "nothing to adopt")
    if state.flag_value is not None and state.flag != current.color and not force:
        raise RefusedError(
            f"{mirror.names.flag} names {state.flag_value!r} but AWSCURRENT is {current.color} "
            f"({current.username}); consumers follow the flag. To move the flag to {current.color}, "
            "re-run with --force; to move AWSCURRENT to AWSPREVIOUS instead, use "
            "`bluegreen rollback --force`. Nothing was changed"
        )
    if meta.stuck_pending:
        env.out.progress(
            f"note: rotation {meta.stuck_pending} has not finished; adopting AWSCURRENT's side only"
        )
    verify_login(env, current, "AWSCURRENT")
    if shared_owner is not None:
        migrate_shared_owner(env, current, shared_owner, outcome)
    write_urls(env, mirror, state, current, outcome)
    if state.flag != current.color:
        write_flag(env, mirror, current.color, outcome, state.flag_value)
    return outcome


def adopt_secret(
    sm: SecretsManagerClient,
    ssm: SSMClient,
    secret_id: str,
    *,
    prefix: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    settings: Settings | None = None,
    shared_owner: str | None = None,
) -> Outcome:
    """:func:`adopt` with its own clients' run and no output (the persistent local stack, tests).

    Raises :class:`RefusedError` when a safety check refuses, :class:`OperationError` on other failures.
    """
    env = Env(
        secret_id=secret_id,
        out=Silent(),
        settings=settings or Settings.from_env(),
        sm=sm,
        ssm=ssm,
        prefix_option=prefix,
    )
    return adopt(env, force=force, dry_run=dry_run, shared_owner=shared_owner)
