"""What the fleet's rotations cost without the quota: the same round against an unthrottled Parameter Store.

The proxy stays in the path (it only counts), so the difference between the two rounds is the
throttling alone, not an extra hop.
"""

from __future__ import annotations

from .harness import Harness
from .scenarios import Round, rotate_round


def unthrottled(harness: Harness, arns: list[str], *, attempts: int, retry_delay: float) -> Round:
    return rotate_round(harness, arns, "unthrottled", rate=None, attempts=attempts, retry_delay=retry_delay)
