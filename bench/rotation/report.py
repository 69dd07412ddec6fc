"""The rotation benchmark's tables: this project against the engine's baseline, per step and rotation."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from bluegreen_ops.devstack.engines import LocalEngine
from bluegreen_ops.devstack.secrets_manager_driver import STEPS

# What each engine's baseline is, in the table's title.
BASELINE_NAMES: dict[LocalEngine, str] = {
    "mysql": "AWS's multi-user MySQL algorithm (bench/baseline_multiuser.py)",
    "postgresql": "AWS's multi-user PostgreSQL algorithm (bench/baseline_multiuser_pg.py)",
}
SERVERS: dict[LocalEngine, str] = {"mysql": "MariaDB", "postgresql": "PostgreSQL 15"}


@dataclass
class EngineRun:
    """One engine's measurements: this project, its baseline, and this project with every step cold."""

    engine: LocalEngine
    rotations: int
    ours: dict[str, Any]
    base: dict[str, Any]
    cold: dict[str, Any]


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def print_report(run: EngineRun) -> None:
    ours, base, cold = run.ours, run.base, run.cold
    print()
    print(
        f"{SERVERS[run.engine]} over TLS, median of {run.rotations} rotations (ms);"
        f" baseline = {BASELINE_NAMES[run.engine]}, no mirror"
    )
    print(f"{'':<16}{'this project':>14}{'baseline':>12}{'ratio':>8}")
    for step in STEPS:
        a, b = median_ms(ours["steps"][step]), median_ms(base["steps"][step])
        print(f"{step:<16}{a:>14.1f}{b:>12.1f}{_ratio(a, b):>8}")
    a, b = median_ms(ours["total"]), median_ms(base["total"])
    print(f"{'whole rotation':<16}{a:>14.1f}{b:>12.1f}{_ratio(a, b):>8}")
    print()
    print(f"{'per rotation':<28}{'this project':>14}{'baseline':>12}{'ratio':>8}")
    for label, key in (
        ("AWS API calls", "aws"),
        ("DB connections", "connections"),
        ("DB commands (round trips)", "commands"),
    ):
        a, b = statistics.median(ours[key]), statistics.median(base[key])
        print(f"{label:<28}{a:>14.0f}{b:>12.0f}{_ratio(a, b):>8}")
    print(f"{'AWS API calls, every step cold':<28}{statistics.median(cold['aws']):>14.0f}{'-':>12}")
    print()
    print(f"{'per step (this project)':<28}{'DB connections':>16}{'DB commands':>13}")
    for step in STEPS:
        c, k = ours["step_connections"][step], ours["step_commands"][step]
        print(f"{step:<28}{statistics.median(c):>16.0f}{statistics.median(k):>13.0f}")
    print()
    print(f"AWS calls of one rotation ({SERVERS[run.engine]}, this project, warm execution environment):")
    for api, count in ours["by_api"].items():
        print(f"  {api:<44}{count:>3}")


def print_imports(imports: dict[str, float], import_repeats: int) -> None:
    """``imports``: the median cold import, seconds, of ``boto3``, ``app`` and ``app`` untraced."""
    print()
    t_boto, t_app, t_app_notrace = imports["boto3"], imports["app"], imports["app untraced"]
    print(f"cold import (median of {import_repeats} fresh interpreters):")
    print(f"  import boto3 alone                  {t_boto * 1000:6.0f} ms   1.00")
    print(f"  import app, tracing on (X-Ray SDK)  {t_app * 1000:6.0f} ms   {t_app / t_boto:.2f}")
    print(
        f"  import app, POWERTOOLS_TRACE_DISABLED {t_app_notrace * 1000:4.0f} ms   {t_app_notrace / t_boto:.2f}"
    )
