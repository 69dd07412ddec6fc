"""Validates an event as Secrets Manager sends it and runs its step.

The validation is the protocol's: rotation enabled, the token among the secret's versions and on
AWSPENDING. A token already AWSCURRENT means the rotation is over: finishSecret still completes the
Parameter Store mirror, every other step does nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from . import steps
from .config import Settings
from .context import LambdaContextLike, RotationContext
from .engines import engine_for
from .engines.base import Engine
from .errors import InvalidInputError, RotationError, RotationRefusedError
from .observability import logger, metrics
from .secrets_store import CURRENT, PENDING, SecretStore

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


def parse_event(event: Mapping[str, Any]) -> tuple[str, str, str, str | None]:
    if not isinstance(event, Mapping):
        raise InvalidInputError("event must be a JSON object")
    step = event.get("Step")
    if step not in steps.STEPS:
        raise InvalidInputError(f"unknown step {step!r}; expected one of {', '.join(steps.STEPS)}")
    arn, token = event.get("SecretId"), event.get("ClientRequestToken")
    if not isinstance(arn, str) or not arn:
        raise InvalidInputError("event has no SecretId")
    if not isinstance(token, str) or not token:
        raise InvalidInputError("event has no ClientRequestToken")
    rotation_token = event.get("RotationToken")
    if rotation_token is not None and not isinstance(rotation_token, str):
        raise InvalidInputError("event RotationToken must be a string")
    return step, arn, token, rotation_token or None


def run_step(
    event: Mapping[str, Any],
    *,
    store: SecretStore,
    ssm: SSMClient,
    settings: Settings | None = None,
    lambda_context: LambdaContextLike | None = None,
    engines: Callable[[str], Engine] = engine_for,
) -> None:
    # Each invocation starts with no metrics: with POWERTOOLS_METRICS_DISABLED, Powertools never
    # flushes, so a warm environment would otherwise carry the last invocation's metrics over.
    metrics.clear_metrics()
    try:
        step, arn, token, rotation_token = parse_event(event)
    except InvalidInputError as exc:
        metrics.add_dimension(name="Step", value="invalid")
        metrics.add_metric(name="StepFailed", unit="Count", value=1)
        logger.error(f"rejected the event: {exc}", extra={"error": type(exc).__name__})
        raise
    logger.append_keys(step=step, secret_arn=arn, token=token)
    started = time.perf_counter()
    metrics.add_dimension(name="Step", value=step)
    try:
        settings = settings or Settings.from_env()
        state = store.describe(arn)
        if not state.rotation_enabled:
            raise InvalidInputError(f"secret {arn} does not have rotation enabled")
        stages = state.versions.get(token)
        if stages is None:
            raise InvalidInputError(f"token {token} is not a version of secret {arn}")
        rot = RotationContext(
            arn=state.arn,
            token=token,
            rotation_token=rotation_token,
            state=state,
            settings=settings,
            store=store,
            ssm=ssm,
            lambda_context=lambda_context,
            engines=engines,
        )
        if CURRENT in stages:
            if step == "finishSecret":
                steps.ensure_mirror(rot)
            logger.info("version is already AWSCURRENT; nothing left to do for this step")
        elif PENDING not in stages:
            raise InvalidInputError(f"version {token} of secret {arn} is not AWSPENDING")
        else:
            steps.STEPS[step](rot)
    except RotationError as exc:
        outcome = "Refused" if isinstance(exc, RotationRefusedError) else "Failed"
        metrics.add_metric(name=f"Step{outcome}", unit="Count", value=1)
        logger.error(f"{step} {outcome.lower()}: {exc}", extra={"error": type(exc).__name__})
        raise
    except Exception as exc:
        metrics.add_metric(name="StepFailed", unit="Count", value=1)
        logger.error(f"{step} failed: {type(exc).__name__}: {exc}", extra={"error": type(exc).__name__})
        raise
    else:
        metrics.add_metric(name="StepSucceeded", unit="Count", value=1)
    finally:
        metrics.add_metric(
            name="StepDuration", unit="Milliseconds", value=(time.perf_counter() - started) * 1000
        )
        logger.remove_keys(["step", "secret_arn", "token"])
