"""``bluegreen rotate-now``: start a rotation and follow it to the end.

On AWS, ``RotateSecret`` starts the rotation and :class:`RotationWatcher` follows what can be seen
from outside the function: the new version's value (createSecret), that color's URLs and the flag
(finishSecret writes them, URLs first), and AWSCURRENT moving to the new version (last). The
rotation is finished when AWSCURRENT is on the new version and the flag on its color.

With ``--local`` the four steps run in this process through :class:`RotationDriver` (moto never
invokes a rotation function), against whatever endpoints the environment names.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bluegreen_db.naming import ROLES, Color, other_color
from bluegreen_rotation.database import Admin
from bluegreen_rotation.errors import DatabaseError, InvalidInputError, RotationRefusedError
from bluegreen_rotation.secret import DbSecret
from bluegreen_rotation.secrets_store import CURRENT, PENDING

from .cli_common import (
    EXIT_FAILURE,
    EXIT_REFUSED,
    CliError,
    Env,
    GuardSettings,
    RefusedError,
    SecretMeta,
    Staged,
    abandon_command,
    check_url,
    describe,
    format_duration,
    guard_settings,
    read_stage,
    read_version,
    staged,
)
from .diagnosis import next_rotation
from .driver import (
    PLACEHOLDER_LAMBDA_ARN,
    Handler,
    RotationDriver,
    RotationFailedError,
    RotationInProgressError,
    StepResult,
)
from .function import rotation_handler
from .localstack import patched_environ

STILL_WAITING_EVERY = 30.0


@dataclass
class Snapshot:
    """What one poll saw of rotation ``token``."""

    seen: bool  # the token is a version of the secret
    stages: list[str]
    current_version: str | None
    secret: DbSecret | None  # the token's value, once createSecret has put it
    urls_written: bool = False
    flag: str | None = None

    @property
    def promoted(self) -> bool:
        return CURRENT in self.stages

    @property
    def finished(self) -> bool:
        return self.promoted and self.secret is not None and self.flag == self.secret.color


@dataclass
class WatchResult:
    finished: bool
    token: str
    message: str
    seconds: float
    color: Color | None = None
    user: str | None = None
    milestones: list[str] = field(default_factory=list)
    staged: Staged | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.finished else EXIT_FAILURE

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.finished,
            "exitStatus": self.exit_code,
            "finished": self.finished,
            "versionId": self.token,
            "user": self.user,
            "color": self.color,
            "seconds": round(self.seconds, 1),
            "milestones": self.milestones,
            "message": self.message,
            "staged": self.staged.as_dict() if self.staged else None,
        }


class RotationWatcher:
    """Polls DescribeSecret and the mirror until rotation ``token`` finishes, fails or times out."""

    def __init__(
        self,
        env: Env,
        token: str,
        *,
        timeout: float,
        interval: float,
        report: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.env = env
        self.token = token
        self.timeout = timeout
        self.interval = interval
        self.report = report or env.out.progress
        self.clock = clock
        self.sleep = sleep
        self.milestones: list[str] = []
        self._secret: DbSecret | None = None
        self._meta: SecretMeta | None = None
        self._last: Snapshot | None = None

    def snapshot(self) -> Snapshot:
        meta = describe(self.env)
        self._meta = meta
        stages = meta.state.versions.get(self.token)
        if self._secret is None and stages and (PENDING in stages or CURRENT in stages):
            self._secret = read_version(self.env, meta, self.token, f"version {self.token}")
        snap = Snapshot(
            seen=stages is not None,
            stages=list(stages or []),
            current_version=meta.state.version_with(CURRENT),
            secret=self._secret,
        )
        self._last = snap
        if self._secret is not None:
            secret = self._secret
            state = self.env.mirror_for(secret).read()
            snap.urls_written = all(
                check_url(state.url(secret.color, role), secret.username, role, secret).ok for role in ROLES
            )
            snap.flag = state.flag_value
        return snap

    def _milestone(self, text: str, started: float) -> None:
        if text not in self.milestones:
            self.milestones.append(text)
            self.report(f"[{format_duration(self.clock() - started):>6}] {text}")

    def watch(self) -> WatchResult:
        started = self.clock()
        deadline = started + self.timeout
        next_note = started + STILL_WAITING_EVERY
        ever_seen = False
        while True:
            snap = self.snapshot()
            elapsed = self.clock() - started
            secret = snap.secret
            if secret is not None:
                self._milestone(
                    f"createSecret: AWSPENDING holds a new password for {secret.username} ({secret.color})",
                    started,
                )
                if snap.urls_written:
                    self._milestone(f"finishSecret: {secret.color}'s URLs written", started)
                if snap.flag == secret.color:
                    self._milestone(f"finishSecret: flag -> {secret.color}", started)
            if snap.promoted:
                self._milestone(f"finishSecret: AWSCURRENT -> {self.token}", started)
            if snap.finished and secret is not None:
                return self._result(
                    True,
                    f"rotation {self.token} finished: AWSCURRENT is {secret.username} ({secret.color}) "
                    f"and the flag is {secret.color}",
                    elapsed,
                )
            ever_seen = ever_seen or snap.seen
            if ever_seen and PENDING not in snap.stages and not snap.promoted:
                return self._result(
                    False,
                    f"rotation {self.token} was abandoned: its version lost AWSPENDING without becoming "
                    f"AWSCURRENT (AWSCURRENT is {snap.current_version})",
                    elapsed,
                )
            now = self.clock()
            if now >= deadline:
                return self._result(False, self._timeout_message(snap), elapsed)
            if now >= next_note:
                self.report(f"[{format_duration(now - started):>6}] still waiting: {self._where(snap)}")
                next_note = now + STILL_WAITING_EVERY
            self.sleep(max(0.0, min(self.interval, deadline - now)))

    def _where(self, snap: Snapshot) -> str:
        if not snap.seen:
            return f"version {self.token} does not exist yet"
        if snap.secret is None:
            return "createSecret has not put the new password yet"
        if snap.promoted:
            return f"AWSCURRENT moved; the flag is {snap.flag}, not {snap.secret.color}"
        if snap.urls_written:
            return "URLs written; waiting for the flag and AWSCURRENT (finishSecret)"
        return "waiting for setSecret/testSecret, then finishSecret"

    def _timeout_message(self, snap: Snapshot) -> str:
        logs = self._meta.logs_hint("30m") if self._meta else "the rotation function's logs"
        left = ""
        if (staged_left := self._staged_left(snap)) is not None:
            left = (
                f"; AWSPENDING stays on {self.token} (Secrets Manager retries a failed rotation with it): "
                f"once the cause is fixed, retry with `{staged_left.retry}`, or clear it "
                f"with `{staged_left.clear}`"
            )
        return (
            f"rotation {self.token} did not finish within {format_duration(self.timeout)}: "
            f"{self._where(snap)}. It may still be running, or have failed (Secrets Manager retries it "
            f"later): read {logs}, then `bluegreen status`{left}"
        )

    def _staged_left(self, snap: Snapshot | None) -> Staged | None:
        """The rotation's version, when it still holds AWSPENDING without having been promoted."""
        if snap is None or PENDING not in snap.stages or snap.promoted:
            return None
        return staged(self.env, self._meta.arn if self._meta else self.env.secret_id, self.token)

    def _result(self, finished: bool, message: str, elapsed: float) -> WatchResult:
        secret = self._secret
        return WatchResult(
            staged=None if finished else self._staged_left(self._last),
            finished=finished,
            token=self.token,
            message=message,
            seconds=elapsed,
            color=secret.color if secret else None,
            user=secret.username if secret else None,
            milestones=list(self.milestones),
        )


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
        raise CliError(f"secret {meta.arn} has no AWSCURRENT version")
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
    forecast = next_rotation(
        current,
        mirror,
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


def _database_facts(env: Env, current: DbSecret, user: str) -> tuple[int | None, list[str]]:
    """As the master user: live sessions of the user setSecret would change (None if not reachable),
    and what setSecret would refuse to copy from AWSCURRENT's user (``Admin.unreproducible``)."""
    try:
        master = env.master(current)
        with Admin.open(env.endpoint(master.host, master.port), master.username, master.password) as admin:
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
        raise CliError(
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
            raise CliError(f"the configuration test failed: {exc}") from None
    else:
        if not meta.rotation_lambda_arn:
            raise CliError(f"secret {meta.arn} has no rotation function: attach it (template.yaml does)")
        token = env.sm.rotate_secret(SecretId=meta.arn, RotateImmediately=False)["VersionId"]
    report(f"testSecret ran on version {token}, a copy of AWSCURRENT")
    return f"configuration test of {meta.arn} passed; nothing rotated (the schedule rotates later)"


# -- local ------------------------------------------------------------------------------------------


def load_handler() -> Handler:
    """The function's ``app.lambda_handler`` from this checkout's ``rotation_lambda/``."""
    try:
        return rotation_handler()
    except RuntimeError as exc:
        raise CliError(str(exc)) from None


@contextlib.contextmanager
def function_environment(region: str | None, profile: str | None, verbose: bool) -> Iterator[None]:
    """The in-process function: same region/profile as the CLI, its logs on stderr, no EMF metrics.

    The function creates its boto3 clients on its first invocation in this process, inside this
    environment, and keeps them (as in a warm Lambda): caches are deliberately not reset here.
    """
    from bluegreen_rotation.observability import logger

    values = {"POWERTOOLS_METRICS_DISABLED": "true"}
    if region:
        values.update({"AWS_REGION": region, "AWS_DEFAULT_REGION": region})
    if profile:
        values["AWS_PROFILE"] = profile
    handler = logger.registered_handler
    old_stream = handler.setStream(sys.stderr) if isinstance(handler, logging.StreamHandler) else None
    old_level = logger.log_level
    # Without --verbose the function's JSON log lines stay quiet: each step's outcome is printed
    # by the CLI itself, in one readable line (the Tracer's error log too, which Python's last-resort
    # handler would print as a raw traceback).
    logger.setLevel(logging.INFO if verbose else logging.CRITICAL)
    tracer_log = logging.getLogger("aws_lambda_powertools.tracing.tracer")
    old_tracer_disabled = tracer_log.disabled
    tracer_log.disabled = not verbose
    try:
        with patched_environ(values):
            yield
    finally:
        tracer_log.disabled = old_tracer_disabled
        logger.setLevel(old_level)
        if old_stream is not None and isinstance(handler, logging.StreamHandler):
            handler.setStream(old_stream)


def run_local(
    env: Env, meta: SecretMeta, token: str | None, attempts: int, report: Callable[[str], None]
) -> str:
    """The four steps in-process; returns the token, or raises with the right exit code."""

    def on_step(result: StepResult) -> None:
        outcome = "ok" if result.error is None else f"FAILED: {type(result.error).__name__}: {result.error}"
        report(f"attempt {result.attempt}  {result.step:<12} {outcome}  ({result.seconds:.2f}s)")

    driver = RotationDriver(env.sm, load_handler(), max_attempts=attempts, on_step=on_step)
    try:
        return driver.rotate(meta.arn, token)
    except RotationInProgressError as exc:
        raise RefusedError(str(exc)) from None
    except RotationFailedError as exc:
        code = EXIT_REFUSED if isinstance(exc.last, RotationRefusedError) else EXIT_FAILURE
        retry = f"bluegreen rotate-now --local --secret-id {env.sid} --token {exc.token}"
        left = Staged(exc.token, retry, abandon_command(meta.arn, exc.token))
        raise CliError(
            f"{exc}. AWSPENDING stays on {exc.token}, as Secrets Manager leaves it on AWS (where it "
            f"retries the rotation): once the cause is fixed, retry it with `{left.retry}`, or clear it "
            f"with `{left.clear}`",
            code,
            staged=left,
        ) from None
    except RuntimeError as exc:  # the emulator could not stage the placeholder version
        raise CliError(f"cannot start a local rotation of {meta.arn}: {exc}") from None


__all__ = [
    "RotationWatcher",
    "Snapshot",
    "WatchResult",
    "check_not_in_progress",
    "configuration_test",
    "function_environment",
    "load_handler",
    "preflight",
    "refuse_emulator",
    "run_local",
    "start_on_aws",
]
