"""The fleet benchmark's table: per fleet size, the unthrottled round and the throttled one."""

from __future__ import annotations

from .scenarios import Round

_COLUMNS = (
    ("N", 4),
    ("round", 20),
    ("total s", 9),
    ("median s", 9),
    ("slowest s", 10),
    ("puts ok", 8),
    ("throttled", 10),
    ("absorbed", 9),
    ("gave up", 8),
    ("steps failed", 13),
    ("retried", 8),
    ("failed", 7),
)


def print_report(rounds: list[Round], rate: float, attempts: int, total_seconds: float) -> None:
    print()
    print(
        f"Fleet rotation: N secrets rotating at once, PutParameter limited to {rate:g}/s "
        f"(driver: {attempts} attempt(s) per rotation)"
    )
    print("".join(f"{name:>{width}}" for name, width in _COLUMNS))
    for r in rounds:
        cells = (
            r.size,
            r.label,
            f"{r.seconds:.1f}",
            f"{r.median_rotation:.2f}",
            f"{r.slowest_rotation:.2f}",
            r.put_accepted,
            r.put_throttled,
            r.absorbed_by_sdk,
            r.calls_gave_up,
            f"{r.steps_failed_throttled}+{r.steps_failed_other}",
            r.retried,
            r.failed,
        )
        print("".join(f"{cell!s:>{width}}" for cell, (_, width) in zip(cells, _COLUMNS, strict=True)))
    print()
    print("throttled: PutParameter answered 400 ThrottlingException; absorbed: of those, retried by the SDK")
    print("within the same call; gave up: calls still throttled after botocore's attempts; steps failed:")
    print("on throttling + on anything else (each retried by the driver, as the service retries a rotation);")
    print(
        "retried: rotations that needed a second attempt; failed: rotations that never completed (0 expected)."
    )
    print(f"\ntotal bench time {total_seconds:.1f}s")
