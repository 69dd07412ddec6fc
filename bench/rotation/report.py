"""The rotation benchmark's tables: this project against the baseline, per step and per rotation."""

from __future__ import annotations

import statistics
from typing import Any

from bluegreen_ops.devstack.secrets_manager_driver import STEPS


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


def print_report(
    rotations: int,
    ours: dict[str, Any],
    base: dict[str, Any],
    cold: dict[str, Any],
    imports: dict[str, float],
    import_repeats: int,
) -> None:
    """``imports``: the median cold import, seconds, of ``boto3``, ``app`` and ``app`` untraced."""
    print()
    print(
        f"Rotation on the local stack over TLS, median of {rotations} (ms);"
        " baseline = the documented multi-user algorithm, no mirror"
    )
    print(f"{'':<16}{'this project':>14}{'baseline':>12}{'ratio':>8}")
    for step in STEPS:
        a, b = median_ms(ours["steps"][step]), median_ms(base["steps"][step])
        print(f"{step:<16}{a:>14.1f}{b:>12.1f}{a / b:>8.2f}")
    a, b = median_ms(ours["total"]), median_ms(base["total"])
    print(f"{'whole rotation':<16}{a:>14.1f}{b:>12.1f}{a / b:>8.2f}")
    print()
    print(f"{'per rotation':<28}{'this project':>14}{'baseline':>12}")
    for label, key in (
        ("AWS API calls", "aws"),
        ("DB connections", "connections"),
        ("DB commands (round trips)", "commands"),
    ):
        print(f"{label:<28}{statistics.median(ours[key]):>14.0f}{statistics.median(base[key]):>12.0f}")
    print(f"{'AWS API calls, every step cold':<28}{statistics.median(cold['aws']):>14.0f}{'-':>12}")
    print()
    print(f"{'per step (this project)':<28}{'DB connections':>16}{'DB commands':>13}")
    for step in STEPS:
        c, k = ours["step_connections"][step], ours["step_commands"][step]
        print(f"{step:<28}{statistics.median(c):>16.0f}{statistics.median(k):>13.0f}")
    print()
    print("AWS calls of one rotation (this project, warm execution environment):")
    for api, count in ours["by_api"].items():
        print(f"  {api:<44}{count:>3}")
    print()
    t_boto, t_app, t_app_notrace = imports["boto3"], imports["app"], imports["app untraced"]
    print(f"cold import (median of {import_repeats} fresh interpreters):")
    print(f"  import boto3 alone                  {t_boto * 1000:6.0f} ms   1.00")
    print(f"  import app, tracing on (X-Ray SDK)  {t_app * 1000:6.0f} ms   {t_app / t_boto:.2f}")
    print(
        f"  import app, POWERTOOLS_TRACE_DISABLED {t_app_notrace * 1000:4.0f} ms   {t_app_notrace / t_boto:.2f}"
    )
