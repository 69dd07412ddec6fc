"""This project under load on PostgreSQL 15: the layer's ``connect()`` (psycopg, chosen by the URL's
``postgresql+psycopg`` scheme) and ``create_engine`` through R rotations of an ``aurora-postgresql``
secret, TLS ``verify-full`` against the run's CA; the same load and guards as :mod:`.layer`.
"""

from __future__ import annotations

from ..harness import Harness
from ..results import Result
from .layer import run_on


def run(harness: Harness) -> Result:
    return run_on(harness, "postgresql", "layer on PostgreSQL (this project)", "postgres")
