"""``bluegreen repair``: the database and both colors' URLs made to match the stages again.

No stage and no flag moves.
"""

from __future__ import annotations

from bluegreen_rotation.engines import engine_for
from bluegreen_rotation.errors import DatabaseError
from bluegreen_rotation.secret import DbSecret
from bluegreen_rotation.secrets_store import CURRENT, PENDING, PREVIOUS

from .env import Env
from .errors import OperationError, abandon_command
from .secret_reads import describe, read_stage
from .writes import Outcome, from_current, logs_in, verify_login, write_urls


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
    current, mirror, state, outcome = from_current(env, meta, dry_run, "nothing to repair from")
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
        engine = engine_for(current.engine)
        endpoint = env.endpoint(master.host, master.port)
        with engine.admin(endpoint, master.username, master.password, current.dbname) as admin:
            state = admin.account_states(secret.username)[secret.username]
            if state is None:
                raise OperationError(f"user {secret.username!r} ({stage}) does not exist in the database")
            # Shaped like itself (its own plugin / verifier type): the reset changes the password only.
            admin.set_password(state, state, secret.password)
    except DatabaseError as exc:
        raise OperationError(f"cannot set {secret.username!r}'s password back to {stage}'s: {exc}") from None
    env.out.progress(f"set {secret.username!r}'s password back to {stage}'s (as {master.username!r})")
    verify_login(env, secret, stage)
