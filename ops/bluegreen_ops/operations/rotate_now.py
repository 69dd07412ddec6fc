"""``rotate-now``'s checks before a rotation starts, and the start itself (RotateSecret, or the
configuration test).

The pre-check asks the function's own guards what setSecret will say, so a rotation it would refuse
never leaves AWSPENDING staged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bluegreen_db.naming import other_color
from bluegreen_rotation.engines import engine_for
from bluegreen_rotation.errors import DatabaseError, InvalidInputError
from bluegreen_rotation.mirror import Mirror, MirrorState
from bluegreen_rotation.secret import DbSecret
from bluegreen_rotation.secrets_store import CURRENT

from ..devstack.secrets_manager_driver import PLACEHOLDER_LAMBDA_ARN, RotationDriver, RotationFailedError
from .clients import make_clients
from .env import Env
from .errors import OperationError, RefusedError, Staged, abandon_command
from .forecast import next_rotation_everywhere
from .guard_settings import GuardSettings, guard_settings
from .local_rotation import load_handler
from .secret_reads import SecretMeta, read_stage


def preflight(env: Env, meta: SecretMeta, *, local: bool, force: bool) -> None:
    """Refuses, before RotateSecret, a rotation the function's setSecret would refuse.

    The same guards as setSecret (``guards.predict_set_secret``: mirror reconciliation, in-use and
    grace, then live sessions counted as the master user), so a refused rotation never leaves
    AWSPENDING staged. With ``--local`` the function runs in this process with these very settings,
    so the forecast is exact and ``--force`` cannot help. On AWS the function has its own
    ROTATION_GRACE_SECONDS / ACTIVE_SESSION_POLICY: ``--force`` starts it anyway when this shell's
    differ (and says what it leaves staged if the function refuses).
    """
    found = read_stage(env, meta, CURRENT)
    if found is None:
        raise OperationError(f"secret {meta.arn} has no AWSCURRENT version")
    current = found[1]
    mirror = env.mirror_for(current).read()
    target_user = current.username_of(other_color(current.color))
    sessions, unreproducible = _database_facts(env, current, target_user)
    if unreproducible:
        # A fact of the database, not of settings: --force cannot help, and the function would refuse.
        raise RefusedError(
            "setSecret would refuse this rotation: " + "; ".join(unreproducible) + ". Checked before "
            "starting; nothing was staged"
        )
    # --local: the function runs here, with this shell's settings; on AWS, its own when readable.
    guard = GuardSettings.of_shell(env.settings) if local else guard_settings(env, meta)
    forecast = next_rotation_everywhere(
        current,
        mirror,
        _replica_mirrors(env, meta, current),
        now=datetime.now(UTC),
        grace_seconds=guard.grace_seconds,
        sessions=sessions,
        policy=guard.session_policy,
    )
    if forecast.refusal is None:
        return
    if local:
        raise RefusedError(
            f"setSecret would refuse this rotation: {forecast.refusal}. Checked before starting, with the "
            f"settings the function runs with here ({guard.describe()}); nothing was staged"
        )
    exact = guard.source == "the function"  # its own settings: --force would only leave AWSPENDING
    if not force or exact:
        override = "" if exact else " If the function's settings differ, --force starts it anyway"
        raise RefusedError(
            f"setSecret would refuse this rotation: {forecast.refusal}. Checked before RotateSecret with "
            f"{guard.describe()}; nothing was staged.{override}"
        )
    env.out.progress(
        f"--force: starting although setSecret is predicted to refuse ({forecast.refusal}); if it does, "
        "AWSPENDING stays staged and the result says how to clear it"
    )


def _replica_mirrors(env: Env, meta: SecretMeta, current: DbSecret) -> dict[str, MirrorState]:
    """Each replica region's mirror, read with a client of that region, as setSecret's guard reads it."""
    names = env.names_for(current)
    return {
        region: Mirror(make_clients(region, env.profile)[1], names).read() for region in meta.state.replicas
    }


def _database_facts(env: Env, current: DbSecret, user: str) -> tuple[int | None, list[str]]:
    """As the master user: live sessions of the user setSecret would change (None if not reachable),
    and what setSecret would refuse to copy from AWSCURRENT's user (``Admin.unreproducible``)."""
    try:
        master = env.master(current)
        endpoint = env.endpoint(master.host, master.port)
        database = current.dbname  # PostgreSQL reads a role's objects and grants in the connected one
        with engine_for(current.engine).admin(endpoint, master.username, master.password, database) as admin:
            state = admin.account_states(current.username)[current.username]
            return admin.count_sessions(user), admin.unreproducible(state) if state is not None else []
    except (DatabaseError, InvalidInputError) as exc:
        env.out.progress(
            f"note: live sessions of {user!r} not checked before starting ({exc}); setSecret checks them"
        )
        return None, []


def refuse_emulator(env: Env, meta: SecretMeta) -> None:
    """Refuses RotateSecret against a local emulator, whose RotateSecret never runs the function.

    moto accepts the call, stages an empty AWSPENDING version and (after a ``--local`` run) moves
    AWSCURRENT onto it, leaving a secret no step ever filled: refuse before calling it.
    """
    why = None
    if env.emulator:
        why = f"the Secrets Manager endpoint {env.emulator} is a local emulator (a loopback address)"
    elif meta.rotation_lambda_arn == PLACEHOLDER_LAMBDA_ARN:
        why = "the secret's rotation function is the local driver's placeholder (no such function exists)"
    if why:
        raise RefusedError(
            f"{why}: RotateSecret would not run the rotation function there. Run the four steps in this "
            f"process instead: `bluegreen rotate-now --local --secret-id {env.sid}`. Nothing was changed"
        )


def check_not_in_progress(meta: SecretMeta, token: str | None, local: bool) -> None:
    stuck = meta.stuck_pending
    if stuck is None or stuck == token:
        return
    retry = f"bluegreen rotate-now{' --local' if local else ''} --secret-id {meta.arn} --token {stuck}"
    raise RefusedError(
        f"rotation {stuck} has not finished (AWSPENDING is on a version that is not AWSCURRENT). "
        f"Retry it with `{retry}`, or abandon it with `{abandon_command(meta.arn, stuck)}`",
        staged=Staged(stuck, retry, abandon_command(meta.arn, stuck)),
    )


def start_on_aws(env: Env, meta: SecretMeta, token: str | None) -> str:
    if not meta.rotation_lambda_arn:
        raise OperationError(
            f"secret {meta.arn} has no rotation function: attach it (template.yaml does), "
            "or run the steps here with --local"
        )
    kwargs: dict[str, Any] = {"SecretId": meta.arn, "RotateImmediately": True}
    if token:
        kwargs["ClientRequestToken"] = token
    response = env.sm.rotate_secret(**kwargs)
    version: str = response["VersionId"]
    return version


def configuration_test(env: Env, meta: SecretMeta, local: bool, report: Callable[[str], None]) -> str:
    """RotateSecret with RotateImmediately=false: the service runs testSecret alone on a copy of
    AWSCURRENT, then removes it (docs/conformance.md). Nothing rotates; returns what happened."""
    if local:
        driver = RotationDriver(env.sm, load_handler(), max_attempts=1)
        try:
            token = driver.test_configuration(meta.arn)
        except RotationFailedError as exc:
            raise OperationError(f"the configuration test failed: {exc}") from None
    else:
        if not meta.rotation_lambda_arn:
            raise OperationError(
                f"secret {meta.arn} has no rotation function: attach it (template.yaml does)"
            )
        token = env.sm.rotate_secret(SecretId=meta.arn, RotateImmediately=False)["VersionId"]
    report(f"testSecret ran on version {token}, a copy of AWSCURRENT")
    return f"configuration test of {meta.arn} passed; nothing rotated (the schedule rotates later)"
