"""``bluegreen adopt``, ``rollback`` and ``repair``: the commands that write the mirror by hand.

Each verifies, before writing anything, that the credentials it is about to publish log in, and
writes a color's URLs before the flag names that color (the function's own order). ``repair`` never
moves a stage or the flag: it makes the database and both colors' URLs match the stages again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bluegreen_db.naming import ROLES, Color
from bluegreen_rotation import database
from bluegreen_rotation.database import Admin
from bluegreen_rotation.errors import DatabaseError
from bluegreen_rotation.mirror import Mirror, MirrorState
from bluegreen_rotation.secret import DbSecret
from bluegreen_rotation.secrets_store import CURRENT, PENDING, PREVIOUS

from .cli_common import (
    CliError,
    Env,
    RefusedError,
    SecretMeta,
    abandon_command,
    check_url,
    describe,
    read_stage,
)

ROLLBACK_LABEL = "BLUEGREEN_ROLLBACK"  # staging label: the version a rollback made AWSCURRENT


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
            database.test_login(
                env.endpoint(host, secret.port), secret.username, secret.password, secret.dbname
            )
        except DatabaseError as exc:
            if exc.code == database.ACCESS_DENIED:
                raise RefusedError(
                    f"{what}'s password does not log in as {secret.username!r} on {host} ({exc}); "
                    "nothing was changed"
                ) from None
            raise CliError(
                f"cannot verify {what}'s credentials on {host}: {exc}; nothing was changed"
            ) from None


def write_urls(env: Env, mirror: Mirror, state: MirrorState, secret: DbSecret, outcome: Outcome) -> None:
    """Writes the secret's color's URLs that are missing or do not hold its credentials."""
    for role in ROLES:
        check = check_url(state.url(secret.color, role), secret.username, role, secret)
        if check.ok:
            continue
        url = secret.url(role, env.settings.db_url_scheme)
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


def _from_current(
    env: Env, meta: SecretMeta, dry_run: bool, missing: str
) -> tuple[DbSecret, Mirror, MirrorState, Outcome]:
    """AWSCURRENT, its mirror as read now and an empty Outcome on its color: where adopt and repair start."""
    found = read_stage(env, meta, CURRENT)
    if found is None:
        raise CliError(f"secret {meta.arn} has no AWSCURRENT version: {missing}")
    _, current = found
    mirror = env.mirror_for(current)
    outcome = Outcome(current.color, current.username, mirror.names.prefix, dry_run)
    return current, mirror, mirror.read(), outcome


def adopt(env: Env, *, force: bool, dry_run: bool) -> Outcome:
    """Writes the flag and AWSCURRENT's color's URLs for an existing secret; idempotent.

    A flag that names another color (or holds garbage) is overwritten only with ``force``: consumers
    follow the flag, so moving it moves them.
    """
    meta = describe(env)
    current, mirror, state, outcome = _from_current(env, meta, dry_run, "nothing to adopt")
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
    write_urls(env, mirror, state, current, outcome)
    if state.flag != current.color:
        write_flag(env, mirror, current.color, outcome, state.flag_value)
    return outcome


def rollback(env: Env, *, force: bool, dry_run: bool) -> Outcome:
    """Moves AWSCURRENT back to AWSPREVIOUS, and the flag with it, when the previous user still logs in.

    The order is the safe one:

    1. verify that AWSPREVIOUS's credentials log in (refuse otherwise: nothing changed);
    2. write its color's URLs if they are missing or stale, so the flag never names untested URLs;
    3. move AWSCURRENT to AWSPREVIOUS's version (Secrets Manager moves AWSPREVIOUS to the old one);
    4. flip the flag last.

    A crash between 3 and 4 leaves AWSCURRENT ahead of the flag: consumers stay on the color they were
    using, whose password has not changed, and the next rotation's reconciliation moves the flag to
    AWSCURRENT (``bluegreen adopt --force`` does it at once); its grace guard then keeps the color
    that just left the flag untouched for ROTATION_GRACE_SECONDS. The other order could crash with the
    flag naming a color AWSCURRENT does not back, which reconciliation would undo, pulling consumers
    back. In no order does the flag ever name credentials that step 1 did not test.
    """
    meta = describe(env)
    stuck = meta.stuck_pending
    if stuck:
        raise RefusedError(
            f"rotation {stuck} has not finished; rolling back under it would race its finishSecret. "
            f"Let it finish, or abandon it first: `{abandon_command(meta.arn, stuck)}`"
        )
    found_current = read_stage(env, meta, CURRENT)
    found_previous = read_stage(env, meta, PREVIOUS)
    if found_current is None:
        raise CliError(f"secret {meta.arn} has no AWSCURRENT version")
    if found_previous is None:
        raise RefusedError(f"secret {meta.arn} has no AWSPREVIOUS version: there is nothing to roll back to")
    current_vid, current = found_current
    previous_vid, previous = found_previous
    if not previous.same_pair(current):
        raise RefusedError(
            "AWSPREVIOUS and AWSCURRENT name different blue/green user pairs; refusing to roll back"
        )
    if previous.username == current.username:
        raise RefusedError(
            f"AWSPREVIOUS is an older password of the same user {current.username!r}, not the other color: "
            "that is not a blue/green rollback (the password has changed since). Nothing was changed"
        )
    if not force and ROLLBACK_LABEL in meta.state.versions.get(current_vid, []):
        raise RefusedError(
            f"AWSCURRENT ({current_vid}, {current.username}) is where a rollback put it (it carries the "
            f"{ROLLBACK_LABEL} label): rolling back again would undo that rollback. To move forward, "
            f"rotate: `{env.rotate_command()}`; to undo the rollback on purpose, re-run with --force. "
            "Nothing was changed"
        )
    mirror = env.mirror_for(current)
    state = mirror.read()
    if state.flag_value is not None and state.flag != current.color and not force:
        raise RefusedError(
            f"{mirror.names.flag} names {state.flag_value!r} but AWSCURRENT is {current.color}. "
            "If a rollback stopped half way (AWSCURRENT moved, flag not), finish it with "
            "`bluegreen adopt --force`; if the flag was moved by hand and you do want AWSCURRENT back on "
            "AWSPREVIOUS, re-run with --force. Nothing was changed"
        )
    outcome = Outcome(previous.color, previous.username, mirror.names.prefix, dry_run)
    outcome.details = {
        "from": {"versionId": current_vid, "user": current.username, "color": current.color},
        "to": {"versionId": previous_vid, "user": previous.username, "color": previous.color},
    }
    verify_login(env, previous, "AWSPREVIOUS")
    write_urls(env, mirror, state, previous, outcome)
    outcome.changes.append(f"AWSCURRENT: {current_vid} -> {previous_vid}")
    if not dry_run:
        env.store.promote(meta.arn, previous_vid, current_vid)
        env.out.progress(
            f"moved AWSCURRENT to {previous_vid} ({previous.username}); AWSPREVIOUS is now {current_vid}"
        )
        _mark_rollback(env, meta.state.versions, meta.arn, previous_vid)
    if state.flag != previous.color:
        write_flag(env, mirror, previous.color, outcome, state.flag_value)
    if not dry_run:
        after = describe(env).state.version_with(CURRENT)
        if after != previous_vid:
            raise CliError(
                f"AWSCURRENT is on {after}, not {previous_vid}, after the move: run `bluegreen status`"
            )
    return outcome


def _mark_rollback(env: Env, versions: dict[str, list[str]], arn: str, version_id: str) -> None:
    """Moves the ROLLBACK_LABEL staging label onto the version a rollback made AWSCURRENT.

    A staging label is on one version at a time, costs no new permission (UpdateSecretVersionStage)
    and is ignored by the rotation; the next rollback reads it to refuse undoing this one.
    """
    holder = next((vid for vid, stages in versions.items() if ROLLBACK_LABEL in stages), None)
    kwargs: dict[str, Any] = {"SecretId": arn, "VersionStage": ROLLBACK_LABEL, "MoveToVersionId": version_id}
    if holder and holder != version_id:
        kwargs["RemoveFromVersionId"] = holder
    env.sm.update_secret_version_stage(**kwargs)


def repair(env: Env, *, dry_run: bool) -> Outcome:
    """Makes the database and both colors' URLs match the stages again; moves no stage and no flag.

    1. AWSCURRENT's user must log in with AWSCURRENT's password: if denied, set it back as the master
       user (someone changed it outside the rotation; consumers reading AWSCURRENT fail meanwhile);
    2. AWSCURRENT's color's URLs are rewritten from AWSCURRENT where missing or not its credentials;
    3. the other color, when AWSPREVIOUS is its version: the same from AWSPREVIOUS (consumers that have
       not moved off it yet, and a rollback, need it). Left alone while an unfinished rotation owns
       that color (its setSecret may already have changed the password): finish or abandon it first.

    Each password written is the stage's own, so the URLs, the secret and the database agree again;
    each URL is written only after its credentials logged in.
    """
    meta = describe(env)
    current, mirror, state, outcome = _from_current(env, meta, dry_run, "nothing to repair from")
    sides: list[tuple[str, DbSecret]] = [(CURRENT, current)]
    found_previous = read_stage(env, meta, PREVIOUS)
    stuck = meta.stuck_pending
    if found_previous is not None:
        previous = found_previous[1]
        usable = previous.same_pair(current) and previous.username != current.username
        if usable and stuck:
            env.out.progress(
                f"rotation {stuck} has not finished and owns {previous.color}: leaving "
                f"{previous.color} alone (finish it with `{env.rotate_command(stuck)}` or abandon it with "
                f"`{abandon_command(meta.arn, stuck)}`)"
            )
            outcome.details["skipped"] = {
                "color": previous.color,
                "because": f"rotation {stuck} is unfinished",
            }
        elif usable:
            sides.append((PREVIOUS, previous))
    outcome.details["passwordsReset"] = []
    for stage, secret in sides:
        if not logs_in(env, secret, stage):
            _reset_password(env, current, secret, stage, outcome)
        write_urls(env, mirror, state, secret, outcome)
    if stuck is None:
        outcome.details["unfinishedRotation"] = None
    else:
        outcome.details["unfinishedRotation"] = {"versionId": stuck, "stage": PENDING}
    return outcome


def _reset_password(env: Env, current: DbSecret, secret: DbSecret, stage: str, outcome: Outcome) -> None:
    """Sets the user's password back to the stage's, as the master user (the function's own verbs)."""
    outcome.changes.append(f"database password of {secret.username!r} -> {stage}'s")
    outcome.details["passwordsReset"].append({"user": secret.username, "stage": stage})
    if outcome.dry_run:
        return
    master = env.master(current)
    try:
        with Admin.open(env.endpoint(master.host, master.port), master.username, master.password) as admin:
            state = admin.account_states(secret.username)[secret.username]
            if state is None:
                raise CliError(f"user {secret.username!r} ({stage}) does not exist in the database")
            # The user's own authentication plugin: the reset changes the password and nothing else.
            admin.set_password(state.account, admin.dialect.plugin_of(state.profile), secret.password)
    except DatabaseError as exc:
        raise CliError(f"cannot set {secret.username!r}'s password back to {stage}'s: {exc}") from None
    env.out.progress(f"set {secret.username!r}'s password back to {stage}'s (as {master.username!r})")
    verify_login(env, secret, stage)
