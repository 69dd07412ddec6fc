"""What a test needs that a developer's machine may lack: skipped here, a failure under CI.

CI installs everything (``make test`` builds the venvs, Docker's engine, jq, the AWS CLI), so a skip
there would hide a broken setup behind a green run. Every test that skips because a tool is missing
calls :func:`skip_unless_available`, so what counts as "running under CI" is decided once.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

# The values CI services and ``.ci/run`` (``CI=true``) set; anything else, unset or empty included, is off.
TRUTHY = frozenset({"1", "true", "yes", "on"})


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in TRUTHY


def skip_unless_available(reason: str) -> NoReturn:
    """Called where something the test needs is missing: skips with ``reason``, or fails under CI."""
    if under_ci():
        pytest.fail(f"CI requires this test to run, but {reason}")
    pytest.skip(reason)
