"""What adopt, rollback and repair share: their outcome, the login check before a write, the writes.

Each operation verifies, before writing anything, that the credentials it is about to publish log in,
and writes a color's URLs before the flag names that color (the function's own order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bluegreen_db.naming import ROLES, Color
from bluegreen_rotation.engines import engine_for
from bluegreen_rotation.engines.base import LoginDenied
from bluegreen_rotation.errors import DatabaseError
from bluegreen_rotation.mirror import Mirror, MirrorState
from bluegreen_rotation.secret import DbSecret
from bluegreen_rotation.secrets_store import CURRENT

from .env import Env
from .errors import OperationError, RefusedError
from .secret_reads import SecretMeta, read_stage
from .urls import check_url


@dataclass
class Outcome:
    """What a repair command did (or, with ``--dry-run``, would do)."""

    color: Color
    user: str
    prefix: str
    dry_run: bool
    changes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changes) and not self.dry_run

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "exitStatus": 0,
            "color": self.color,
            "user": self.user,
            "parameterPrefix": self.prefix,
            "dryRun": self.dry_run,
            "changed": self.changed,
            "changes": self.changes,
            **self.details,
            **({"notes": self.notes} if self.notes else {}),
        }


def logs_in(env: Env, secret: DbSecret, what: str) -> bool:
    """Whether the secret's user logs in on its writer and reader hosts (False: access denied).

    Any other failure (network, TLS) fails the command before anything is written.
    """
    try:
        verify_login(env, secret, what)
    except RefusedError:
        return False
    return True


def verify_login(env: Env, secret: DbSecret, what: str) -> None:
    """Logs in as the secret's user on its writer and reader hosts, as a client would.

    Access denied refuses the command (exit 4); any other failure (network, TLS) fails it (exit 1).
    Either way nothing has been written yet.
    """
    for host in dict.fromkeys(secret.host_for(role) for role in ROLES):
        env.out.progress(f"verifying that {what} logs in as {secret.username} on {host}:{secret.port}")
        try:
            engine_for(secret.engine).test_login(
                env.endpoint(host, secret.port), secret.username, secret.password, secret.dbname
            )
        except LoginDenied as exc:
            raise RefusedError(
                f"{what}'s password does not log in as {secret.username!r} on {host} ({exc}); "
                "nothing was changed"
            ) from None
        except DatabaseError as exc:
            raise OperationError(
                f"cannot verify {what}'s credentials on {host}: {exc}; nothing was changed"
            ) from None


def write_urls(env: Env, mirror: Mirror, state: MirrorState, secret: DbSecret, outcome: Outcome) -> None:
    """Writes the secret's color's URLs that are missing or do not hold its credentials."""
    for role in ROLES:
        check = check_url(state.url(secret.color, role), secret.username, role, secret)
        if check.ok:
            continue
        url = secret.url(role, env.settings.url_scheme(engine_for(secret.engine)))
        name = mirror.names.url(secret.color, role)
        outcome.changes.append(f"{name} ({check.state})")
        if not outcome.dry_run:
            mirror.write_url(secret.color, role, url)
            env.out.progress(f"wrote {name} (was {check.state})")


def write_flag(env: Env, mirror: Mirror, color: Color, outcome: Outcome, was: str | None) -> None:
    outcome.changes.append(f"{mirror.names.flag}: {was or 'missing'} -> {color}")
    if not outcome.dry_run:
        mirror.write_flag(color)
        env.out.progress(f"wrote {mirror.names.flag} = {color} (was {was or 'missing'})")


def from_current(
    env: Env, meta: SecretMeta, dry_run: bool, missing: str
) -> tuple[DbSecret, Mirror, MirrorState, Outcome]:
    """AWSCURRENT, its mirror as read now and an empty Outcome on its color: where adopt and repair start."""
    found = read_stage(env, meta, CURRENT)
    if found is None:
        raise OperationError(f"secret {meta.arn} has no AWSCURRENT version: {missing}")
    _, current = found
    mirror = env.mirror_for(current)
    outcome = Outcome(current.color, current.username, mirror.names.prefix, dry_run)
    return current, mirror, mirror.read(), outcome
