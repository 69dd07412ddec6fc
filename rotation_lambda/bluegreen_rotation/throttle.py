"""Retrying throttled Parameter Store writes for as long as the step can afford.

botocore's ``standard`` retry mode (``aws.CLIENT_CONFIG``) already backs off on
``ThrottlingException`` below each call, but it gives up after a fixed number of attempts whatever
time is left. Many secrets rotating in the same window share one account's PutParameter throughput,
so a write that botocore gave up on is usually worth retrying while the Lambda still has time: this
keeps retrying with capped, fully jittered exponential backoff until a deadline the caller sets from
the step's remaining time. Past the deadline the error propagates and the service retries the step,
which is idempotent.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from botocore.exceptions import ClientError

T = TypeVar("T")

# Error codes Parameter Store returns when a write was not applied because of load: the throttle, and
# TooManyUpdates (a concurrent update of the same parameter), which botocore does not retry itself.
THROTTLE_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyUpdates"})


def is_throttle(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in THROTTLE_CODES


@dataclass
class ThrottleRetry:
    """Retries a call refused by throttling until ``deadline`` (on ``clock``'s scale).

    ``clock``, ``sleep`` and ``jitter`` are injectable so tests prove the schedule without waiting.
    ``absorbed`` counts the throttles retried, for the step's metrics.
    """

    deadline: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random
    base_delay: float = 0.2
    max_delay: float = 5.0
    absorbed: int = field(default=0, init=False)

    @classmethod
    def within(
        cls,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> ThrottleRetry:
        """A budget of ``seconds`` from now (e.g. the Lambda's remaining time minus a margin)."""
        return cls(deadline=clock() + max(0.0, seconds), clock=clock, sleep=sleep, jitter=jitter)

    def call(self, fn: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                return fn()
            except ClientError as exc:
                if not is_throttle(exc):
                    raise
                delay = min(self.max_delay, self.base_delay * 2**attempt) * self.jitter()
                if self.clock() + delay >= self.deadline:
                    raise
                self.absorbed += 1
                attempt += 1
                self.sleep(delay)
