"""Powertools Logger, Metrics and Tracer, configured once for the function.

The tracer never captures responses (``capture_response=False`` on every capture): a captured
response of a secret read would put a password into X-Ray.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "bluegreen-rotation"
NAMESPACE = "BlueGreenRotation"

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)
tracer = Tracer(service=SERVICE)
