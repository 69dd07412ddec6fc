"""Plays Secrets Manager's part of a rotation, for emulators that cannot.

moto's ``RotateSecret`` never runs a rotation function, so tests, the demo and ``rotate-now --local``
use this driver, which does what the service does:

1. refuses to start while AWSPENDING sits on a version other than AWSCURRENT (a rotation is in
   progress). moto inverts this check: it refuses when AWSPENDING and AWSCURRENT share a version,
   which is the normal state between rotations on AWS. The driver makes the right check itself,
   clears AWSPENDING after a successful rotation, and takes AWSPENDING off AWSCURRENT's version before
   calling moto (on AWS, staging the new version moves the label anyway), so moto's check never fires;
2. stages a placeholder AWSPENDING version with no value under a new ClientRequestToken and marks
   rotation enabled. moto has no API for a value-less version, but its ``RotateSecret`` creates one
   before it fails to find the rotation Lambda (which does not exist in moto): the driver uses that;
3. invokes the function's four steps in order with the same token, and on any failure retries the
   whole rotation with the same token, as the service does;
4. on success removes AWSPENDING from the new AWSCURRENT version, as the service does.

"Configure, rotate later" (:meth:`RotationDriver.test_configuration`) plays ``RotateSecret`` with
``RotateImmediately=false``: the service stages AWSPENDING on a new version holding a *copy* of
AWSCURRENT, invokes testSecret alone, then removes AWSPENDING. moto 5.2's ``rotate_secret`` stages
that copy, but copies the value the secret was *created* with (``FakeSecret.secret_string``, which
``UpdateSecretVersionStage`` never moves): after a rotation that is AWSPREVIOUS's value, not
AWSCURRENT's. The driver checks the copy and, when moto's is stale, stages a faithful one itself.

Against real AWS, use ``RotateSecret`` itself (``bluegreen rotate-now`` without ``--local``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from bluegreen_rotation.secrets_store import SecretState

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
Handler = Callable[[dict[str, Any], Any], Any]
PLACEHOLDER_LAMBDA_ARN = "arn:aws:lambda:us-east-1:000000000000:function:bluegreen-rotation-driver"


class RotationInProgressError(RuntimeError):
    """AWSPENDING is on a version other than AWSCURRENT: another rotation has not finished."""


class RotationFailedError(RuntimeError):
    """Every attempt of the rotation failed; AWSPENDING stays on the token, as on AWS."""

    def __init__(self, token: str, attempts: int, last: BaseException) -> None:
        super().__init__(
            f"rotation {token} failed after {attempts} attempt(s): {type(last).__name__}: {last}"
        )
        self.token = token
        self.attempts = attempts
        self.last = last


@dataclass
class FakeLambdaContext:
    """The attributes Powertools reads from a Lambda context, with a real remaining-time clock."""

    function_name: str = "bluegreen-rotation"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = PLACEHOLDER_LAMBDA_ARN
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout_seconds: float = 60.0
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


@dataclass
class StepResult:
    attempt: int
    step: str
    seconds: float
    error: BaseException | None = None


@dataclass
class RotationDriver:
    client: SecretsManagerClient
    handler: Handler
    max_attempts: int = 3
    retry_delay: float = 0.0
    on_step: Callable[[StepResult], None] | None = None
    timeout_seconds: float = 60.0
    history: list[StepResult] = field(default_factory=list)
    # The RotationLambdaARN the secret records (ListSecrets and DescribeSecret return it); no function
    # of that name exists in the emulator, which is what lets RotateSecret stage and then stop.
    rotation_lambda_arn: str = PLACEHOLDER_LAMBDA_ARN

    def start(self, secret_id: str, token: str | None = None) -> str:
        """RotateSecret's bookkeeping: refuse a concurrent rotation, stage the placeholder version."""
        token = token or str(uuid.uuid4())
        state = SecretState.from_description(self.client.describe_secret(SecretId=secret_id))
        unfinished = state.unfinished_pending
        if unfinished is not None and unfinished != token:
            raise RotationInProgressError(
                f"rotation {unfinished} of {secret_id} has not finished (it holds AWSPENDING); "
                "finish it, or remove its AWSPENDING label to abandon it"
            )
        if token in state.versions:
            return token  # resuming this rotation: the placeholder (or its value) is already there
        self._unstage_pending_on_current(secret_id, state)
        self._rotate_secret(secret_id, token, rotate_immediately=True)
        stages_now = self.client.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {})
        if "AWSPENDING" not in stages_now.get(token, []):
            raise RuntimeError("the emulator did not stage a placeholder AWSPENDING version")
        return token

    def test_configuration(self, secret_id: str, token: str | None = None) -> str:
        """RotateSecret with RotateImmediately=false: testSecret alone on a copy of AWSCURRENT.

        AWSPENDING is removed afterwards whether the test passed or not, as the service does; a failed
        test raises :class:`RotationFailedError`. Returns the token of the copy that was tested.
        """
        token = token or str(uuid.uuid4())
        state = SecretState.from_description(self.client.describe_secret(SecretId=secret_id))
        if state.unfinished_pending is not None:
            raise RotationInProgressError(
                f"rotation {state.unfinished_pending} of {secret_id} has not finished (it holds AWSPENDING)"
            )
        current = self.client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")["SecretString"]
        self._unstage_pending_on_current(secret_id, state)
        self._rotate_secret(secret_id, token, rotate_immediately=False)
        staged = self.client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage="AWSPENDING")
        if staged.get("SecretString") != current:
            # moto copied a stale value (see the module docstring): stage what AWS stages.
            self._remove_pending(secret_id, token)
            token = str(uuid.uuid4())
            self.client.put_secret_value(
                SecretId=secret_id,
                ClientRequestToken=token,
                SecretString=current,
                VersionStages=["AWSPENDING"],
            )
        try:
            self.run_steps(secret_id, token, steps=("testSecret",))
        except Exception as exc:
            raise RotationFailedError(token, 1, exc) from exc
        finally:
            self._remove_pending(secret_id, token)
        return token

    def _rotate_secret(self, secret_id: str, token: str, *, rotate_immediately: bool) -> None:
        """moto's RotateSecret with the placeholder function: it stages AWSPENDING (a placeholder, or
        with ``rotate_immediately=False`` a copy) before it looks the (absent) Lambda up and fails."""
        try:
            self.client.rotate_secret(
                SecretId=secret_id,
                ClientRequestToken=token,
                RotationLambdaARN=self.rotation_lambda_arn,
                RotationRules={"AutomaticallyAfterDays": 30},
                RotateImmediately=rotate_immediately,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise

    def run_steps(self, secret_id: str, token: str, attempt: int = 1, steps: tuple[str, ...] = STEPS) -> None:
        for step in steps:
            event = {"Step": step, "SecretId": secret_id, "ClientRequestToken": token}
            started = time.perf_counter()
            try:
                self.handler(event, FakeLambdaContext(timeout_seconds=self.timeout_seconds))
            except Exception as exc:
                self._record(StepResult(attempt, step, time.perf_counter() - started, exc))
                raise
            self._record(StepResult(attempt, step, time.perf_counter() - started))

    def rotate(self, secret_id: str, token: str | None = None) -> str:
        """One whole rotation with the service's retries; returns the token (the new version id)."""
        token = self.start(secret_id, token)
        last: BaseException | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                self.run_steps(secret_id, token, attempt)
            except Exception as exc:
                last = exc
                if attempt < self.max_attempts and self.retry_delay:
                    time.sleep(self.retry_delay)
                continue
            self.finish(secret_id, token)
            return token
        raise RotationFailedError(token, self.max_attempts, last or RuntimeError("no attempt was made"))

    def finish(self, secret_id: str, token: str) -> None:
        """What the service does after a successful finishSecret: AWSPENDING leaves the version."""
        self._remove_pending(secret_id, token)

    def _unstage_pending_on_current(self, secret_id: str, state: SecretState) -> None:
        """moto refuses RotateSecret while AWSPENDING shares AWSCURRENT's version (AWS allows it and
        moves the label to the new version): take the label off first, as AWS's move would."""
        for vid, stages in state.versions.items():
            if "AWSPENDING" in stages and "AWSCURRENT" in stages:
                self._remove_pending(secret_id, vid)

    def _remove_pending(self, secret_id: str, token: str) -> None:
        stages = self.client.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {})
        if "AWSPENDING" in stages.get(token, []):
            self.client.update_secret_version_stage(
                SecretId=secret_id, VersionStage="AWSPENDING", RemoveFromVersionId=token
            )

    def _record(self, result: StepResult) -> None:
        self.history.append(result)
        if self.on_step:
            self.on_step(result)
