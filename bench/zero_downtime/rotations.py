"""Real rotations under the load: the function's handler through ``RotationDriver``."""

from __future__ import annotations

import collections
import time
from typing import Any

from bluegreen_db.naming import ParameterNames
from bluegreen_ops.devstack.app_database import AppDatabase


class Rotations:
    """The real rotation handler through the driver, spaced by the grace period."""

    def __init__(self, sm: Any, ssm: Any, app: AppDatabase, names: ParameterNames, grace: int) -> None:
        from app import lambda_handler  # the rotation function's real entry point
        from bluegreen_ops.devstack.secrets_manager_driver import RotationDriver

        self.driver = RotationDriver(sm, lambda_handler, max_attempts=5, retry_delay=1.0, on_step=self._step)
        self.ssm = ssm
        self.app = app
        self.names = names
        self.grace = grace
        self.last: float | None = None
        self._finish_started = 0.0

    def _step(self, result: Any) -> None:
        if result.step == "finishSecret" and result.error is None:
            self._finish_started = time.monotonic() - result.seconds

    def rotate(self) -> tuple[float, str]:
        """Runs one rotation; returns (when its finishSecret began, the user the flag now names).

        finishSecret writes the flag (last), so its start is a conservative time for the flip.
        """
        if self.last is not None:
            # The guard counts grace from the flag's LastModifiedDate (whole seconds): add a margin.
            wait = self.last + self.grace + 0.7 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self.driver.rotate(self.app.secret_arn)
        self.last = time.monotonic()
        flag = self.ssm.get_parameter(Name=self.names.flag)["Parameter"]["Value"]
        return self._finish_started, (self.app.username if flag == "blue" else f"{self.app.username}_green")

    def change(self, _index: int) -> tuple[float, str]:
        """:meth:`rotate` as the harness's ``change(i)``."""
        return self.rotate()

    @property
    def refused_attempts(self) -> int:
        return sum(1 for r in self.driver.history if r.error is not None)

    @property
    def refused_note(self) -> str:
        """A scenario's proof that ``ACTIVE_SESSION_POLICY`` never had to refuse a step."""
        return f"rotation steps refused and retried: {self.refused_attempts}"


def count_ssm_calls(client: Any, counter: collections.Counter[str]) -> None:
    """Counts the client's Parameter Store calls by operation name."""

    def hook(event_name: str, **_: Any) -> None:
        counter[event_name.rsplit(".", 1)[-1]] += 1

    client.meta.events.register("before-call.ssm.*", hook)
