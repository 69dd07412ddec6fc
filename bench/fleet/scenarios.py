"""A round: N rotations started together, one thread per secret, and what it cost."""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from bluegreen_ops.devstack.faults import ThrottlingProxy
from bluegreen_ops.devstack.secrets_manager_driver import Handler, RotationDriver, RotationFailedError
from bluegreen_rotation.throttle import is_throttle

from .harness import Harness


def throttled_cause(exc: BaseException | None) -> bool:
    """Whether a step failed because Parameter Store throttled it (directly, or as the cause)."""
    seen = 0
    while exc is not None and seen < 10:
        if is_throttle(exc):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


GATE_TIMEOUT = 60.0  # seconds a rotation waits for the others at finishSecret before going on alone


class FinishGate:
    """Holds each rotation's first finishSecret until all N have reached it, then lets them go together.

    N Lambdas started by one schedule run in parallel and reach finishSecret within moments of each
    other; here one interpreter runs all N and its rotations drift apart over seconds, which would
    spread their writes thinner than AWS sees them. The gate restores the burst: every finishSecret's
    URL and flag writes land in the same window. A rotation that never gets there (it failed every
    attempt) breaks the gate after ``GATE_TIMEOUT`` and the others go on.
    """

    def __init__(self, parties: int) -> None:
        self._barrier = threading.Barrier(parties)
        self._passed: set[str] = set()
        self._lock = threading.Lock()

    def wrap(self, handler: Handler) -> Handler:
        def gated(event: dict[str, Any], context: Any) -> Any:
            if event.get("Step") == "finishSecret" and self._first(str(event.get("SecretId"))):
                with contextlib.suppress(threading.BrokenBarrierError):
                    self._barrier.wait(GATE_TIMEOUT)
            return handler(event, context)

        return gated

    def _first(self, secret_id: str) -> bool:
        with self._lock:
            first = secret_id not in self._passed
            self._passed.add(secret_id)
            return first


@dataclass
class Round:
    """One round's counts: the rotations, what the proxy answered, how the throttles were met."""

    label: str
    size: int
    seconds: float = 0.0
    rotation_seconds: list[float] = field(default_factory=list)
    failed: int = 0
    retried: int = 0  # rotations that needed more than one attempt by the driver (the service's retry)
    steps_failed_throttled: int = 0
    steps_failed_other: int = 0
    put_accepted: int = 0
    put_throttled: int = 0
    absorbed_by_sdk: int = 0  # throttled answers of calls that got through on a later attempt
    calls_gave_up: int = 0  # calls still throttled after every attempt botocore makes

    @property
    def median_rotation(self) -> float:
        return statistics.median(self.rotation_seconds) if self.rotation_seconds else float("nan")

    @property
    def slowest_rotation(self) -> float:
        return max(self.rotation_seconds, default=float("nan"))


def rotate_round(
    harness: Harness,
    arns: list[str],
    label: str,
    *,
    rate: float | None,
    attempts: int,
    retry_delay: float,
) -> Round:
    """Rotates every secret once, all started together; ``rate`` None means unthrottled."""
    proxy, handler = harness.proxy, harness.handler
    if proxy is None or handler is None:
        raise RuntimeError("rotate_round runs inside Harness.stack()")
    proxy.limit(rate)
    result = Round(label, len(arns))
    gated = FinishGate(len(arns)).wrap(handler)
    drivers = [_driver(harness, gated, attempts, retry_delay) for _ in arns]
    durations: list[float] = [0.0] * len(arns)
    failures: list[BaseException | None] = [None] * len(arns)
    start = threading.Barrier(len(arns) + 1)

    def rotate(index: int) -> None:
        start.wait()
        began = time.perf_counter()
        try:
            drivers[index].rotate(arns[index])
        except RotationFailedError as exc:
            failures[index] = exc
        durations[index] = time.perf_counter() - began

    threads = [threading.Thread(target=rotate, args=(i,), name=f"rotation-{i}") for i in range(len(arns))]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - began
    result.rotation_seconds = durations
    result.failed = sum(1 for f in failures if f is not None)
    for driver in drivers:
        result.retried += 1 if any(step.attempt > 1 for step in driver.history) else 0
        for step in driver.history:
            if step.error is not None:
                if throttled_cause(step.error):
                    result.steps_failed_throttled += 1
                else:
                    result.steps_failed_other += 1
    _count_proxy(result, proxy)
    return result


def _driver(harness: Harness, handler: Handler, attempts: int, retry_delay: float) -> RotationDriver:
    return RotationDriver(harness.sm, handler, max_attempts=attempts, retry_delay=retry_delay)


def _count_proxy(result: Round, proxy: ThrottlingProxy) -> None:
    result.put_accepted, result.put_throttled = proxy.accepted, proxy.throttled
    for call in proxy.calls():
        if call.succeeded:
            result.absorbed_by_sdk += call.throttled
        else:
            result.calls_gave_up += 1
