"""Locates the rotation function's handler for in-process runs (driver, demo, bench, ``--local``).

The function's code lives in ``rotation_lambda/`` as Lambda lays it out (``app.py`` at the top), so
it is not an installed package: this puts that directory on ``sys.path`` once, from the checkout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bluegreen_ops.devstack.secrets_manager_driver import Handler

FUNCTION_DIR = Path(__file__).resolve().parents[3] / "rotation_lambda"


def rotation_handler() -> Handler:
    try:
        import app
    except ImportError:
        if not (FUNCTION_DIR / "app.py").is_file():
            raise RuntimeError(
                f"the rotation function is not at {FUNCTION_DIR}; run from a checkout"
            ) from None
        sys.path.insert(0, str(FUNCTION_DIR))
        import app
    handler: Any = app.lambda_handler
    return handler  # type: ignore[no-any-return]
