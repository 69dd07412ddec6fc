"""``rotate-now --local``: the function's four steps in this process, through the Secrets Manager driver.

moto never invokes a rotation function, so against an emulator the driver plays the service's part
and the function runs here, against whatever endpoints the environment names.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator

from bluegreen_rotation.errors import RotationRefusedError

from ..devstack.environ import patched_environ
from ..devstack.function import rotation_handler
from ..devstack.secrets_manager_driver import (
    Handler,
    RotationDriver,
    RotationFailedError,
    RotationInProgressError,
    StepResult,
)
from ..exit_codes import EXIT_FAILURE, EXIT_REFUSED
from .env import Env
from .errors import OperationError, RefusedError, Staged, abandon_command
from .secret_reads import SecretMeta


def load_handler() -> Handler:
    """The function's ``app.lambda_handler`` from this checkout's ``rotation_lambda/``."""
    try:
        return rotation_handler()
    except RuntimeError as exc:
        raise OperationError(str(exc)) from None


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
        raise OperationError(
            f"{exc}. AWSPENDING stays on {exc.token}, as Secrets Manager leaves it on AWS (where it "
            f"retries the rotation): once the cause is fixed, retry it with `{left.retry}`, or clear it "
            f"with `{left.clear}`",
            code,
            staged=left,
        ) from None
    except RuntimeError as exc:  # the emulator could not stage the placeholder version
        raise OperationError(f"cannot start a local rotation of {meta.arn}: {exc}") from None
