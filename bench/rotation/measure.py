"""Rotations timed and counted through the real clients, and cold import times in fresh interpreters."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.instrument import counting, mark_step
from bluegreen_ops.devstack.secrets_manager_driver import STEPS, RotationDriver

ROOT = Path(__file__).resolve().parents[2]
PER_STEP = ("steps", "step_commands", "step_connections")  # the figures kept by step


def run_rotations(driver: RotationDriver, arn: str, n: int, clients: list[Any]) -> dict[str, Any]:
    totals: list[float] = []
    per_step: dict[str, list[float]] = {s: [] for s in STEPS}
    aws, conns, commands = [], [], []
    step_commands: dict[str, list[int]] = {s: [] for s in STEPS}
    step_connections: dict[str, list[int]] = {s: [] for s in STEPS}
    by_api: dict[str, int] = {}
    for i in range(n):
        driver.history.clear()
        with counting(clients) as counters:
            started = time.perf_counter()
            driver.rotate(arn)
            totals.append(time.perf_counter() - started)
        for result in driver.history:
            per_step[result.step].append(result.seconds)
        # Only the function's clients are counted: the driver's calls are the service's.
        aws.append(counters.aws_total)
        conns.append(counters.db_connections)
        commands.append(counters.db_commands)
        for s in STEPS:
            step_commands[s].append(counters.commands_by_step[s])
            step_connections[s].append(counters.connections_by_step[s])
        if i == n - 1:
            by_api = dict(sorted(counters.aws.items()))
        if (i + 1) % 10 == 0:
            sys.stdout.write(f"  {i + 1}/{n} rotations\n")
            sys.stdout.flush()
    return {
        "total": totals,
        "steps": per_step,
        "aws": aws,
        "connections": conns,
        "commands": commands,
        "by_api": by_api,
        "step_commands": step_commands,
        "step_connections": step_connections,
    }


def merge(into: dict[str, Any], part: dict[str, Any]) -> None:
    """Adds one block's figures to the run's: samples appended, the latest rotation's calls by API."""
    for key, value in part.items():
        if key in PER_STEP:
            steps = into.setdefault(key, {s: [] for s in STEPS})
            for s in STEPS:
                steps[s].extend(value[s])
        elif key == "by_api":
            into["by_api"] = value
        else:
            into.setdefault(key, []).extend(value)


def stepwise(handler: Any) -> Any:
    """The handler, telling the counters which step its database work belongs to."""

    def wrapped(event: dict[str, Any], context: Any) -> Any:
        mark_step(event["Step"])
        try:
            return handler(event, context)
        finally:
            mark_step("")

    return wrapped


def import_time(statement: str, repeats: int, **extra_env: str) -> float:
    env = dict(os.environ) | extra_env
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "rotation_lambda"), str(ROOT / "layer" / "python")])
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    samples = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)
