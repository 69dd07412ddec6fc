"""Lambda entry point (``Handler: app.lambda_handler``): a thin adapter over the rotation steps."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen_rotation.aws import secretsmanager_client, ssm_client
from bluegreen_rotation.observability import logger, metrics, traced_handler
from bluegreen_rotation.rotation import run_step
from bluegreen_rotation.secrets_store import SecretStore

_store: SecretStore | None = None


def _secret_store() -> SecretStore:
    """One store per execution environment, so its version cache serves all four steps."""
    global _store  # noqa: PLW0603 - deliberate per-environment singleton
    if _store is None:
        _store = SecretStore(secretsmanager_client())
    return _store


@logger.inject_lambda_context(log_event=False, clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
@traced_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    run_step(event, store=_secret_store(), ssm=ssm_client(), lambda_context=context)
