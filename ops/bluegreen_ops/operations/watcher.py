"""``rotate-now``'s watcher: follow a rotation on AWS from outside the function until it ends.

``RotateSecret`` starts the rotation; :class:`RotationWatcher` follows what can be seen from outside
the function: the new version's value (createSecret), that color's URLs and the flag (finishSecret
writes them, URLs first), and AWSCURRENT moving to the new version (last). The rotation is finished
when AWSCURRENT is on the new version and the flag on its color.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bluegreen_db.naming import ROLES, Color
from bluegreen_rotation.secret import DbSecret
from bluegreen_rotation.secrets_store import CURRENT, PENDING

from ..exit_codes import EXIT_FAILURE
from .durations import format_duration
from .env import Env
from .errors import Staged
from .secret_reads import SecretMeta, describe, read_version
from .urls import check_url

STILL_WAITING_EVERY = 30.0


@dataclass
class RotationProgress:
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
        self._last: RotationProgress | None = None

    def snapshot(self) -> RotationProgress:
        meta = describe(self.env)
        self._meta = meta
        stages = meta.state.versions.get(self.token)
        if self._secret is None and stages and (PENDING in stages or CURRENT in stages):
            self._secret = read_version(self.env, meta, self.token, f"version {self.token}")
        snap = RotationProgress(
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

    def _where(self, snap: RotationProgress) -> str:
        if not snap.seen:
            return f"version {self.token} does not exist yet"
        if snap.secret is None:
            return "createSecret has not put the new password yet"
        if snap.promoted:
            return f"AWSCURRENT moved; the flag is {snap.flag}, not {snap.secret.color}"
        if snap.urls_written:
            return "URLs written; waiting for the flag and AWSCURRENT (finishSecret)"
        return "waiting for setSecret/testSecret, then finishSecret"

    def _timeout_message(self, snap: RotationProgress) -> str:
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

    def _staged_left(self, snap: RotationProgress | None) -> Staged | None:
        """The rotation's version, when it still holds AWSPENDING without having been promoted."""
        if snap is None or PENDING not in snap.stages or snap.promoted:
            return None
        return self.env.staged(self._meta.arn if self._meta else self.env.secret_id, self.token)

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
