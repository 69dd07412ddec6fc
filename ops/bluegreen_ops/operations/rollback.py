"""``bluegreen rollback``: AWSCURRENT back to AWSPREVIOUS, and the flag with it."""

from __future__ import annotations

from typing import Any

from bluegreen_rotation.secrets_store import CURRENT, PREVIOUS

from .env import Env
from .errors import OperationError, RefusedError, abandon_command
from .secret_reads import describe, read_stage
from .writes import Outcome, verify_login, write_flag, write_urls

ROLLBACK_LABEL = "BLUEGREEN_ROLLBACK"  # staging label: the version a rollback made AWSCURRENT


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
        raise OperationError(f"secret {meta.arn} has no AWSCURRENT version")
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
            raise OperationError(
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
