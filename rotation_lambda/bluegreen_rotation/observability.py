"""Powertools Logger, Metrics and Tracer, configured once for the function.

The tracer never captures responses (``capture_response=False``): a captured response of a secret
read would put a password into X-Ray. It is built only when tracing is on: the X-Ray SDK's recorder
creates two botocore clients when imported, about 300 ms of cold start, which a function deployed
with ``POWERTOOLS_TRACE_DISABLED=true`` (Tracing: PassThrough) should not pay.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics

DEFAULT_SERVICE = "bluegreen-rotation"
DEFAULT_NAMESPACE = "BlueGreenRotation"

# The deployer's POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE win: Powertools lets an
# explicit argument beat its variable, so the defaults are passed only when the variable is unset
# (the template's alarm reads the same namespace parameter).
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)

F = TypeVar("F", bound=Callable[..., Any])


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() not in ("1", "true", "yes")


def traced_handler(handler: F) -> F:
    """Wraps the Lambda handler in a Powertools Tracer segment when tracing is on."""
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service=SERVICE)
    return cast(F, tracer.capture_lambda_handler(handler, capture_response=False, capture_error=True))
