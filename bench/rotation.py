"""Rotation benchmark: time per step, AWS calls and database work per rotation, cold import time.

Runs on the real local stack (MariaDB + moto's server). In the same run it measures a baseline: the
documented multi-user rotation algorithm without the Parameter Store mirror (bench/baseline_multiuser.py).
Prints medians and ratios; asserts nothing.

    make bench            # or: python -m bench.rotation --rotations 40
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

from bench import baseline_multiuser
from bench.instrument import counting, mark_step
from bluegreen_ops.devstack.environ import patched_environ
from bluegreen_ops.devstack.function import rotation_handler
from bluegreen_ops.devstack.mariadb import MariaDB
from bluegreen_ops.devstack.moto_server import MotoServer, aws_environment
from bluegreen_ops.devstack.secrets_manager_driver import STEPS, RotationDriver
from bluegreen_ops.devstack.seeding import seed_application
from bluegreen_ops.devstack.tls import make_tls_files

ROOT = Path(__file__).resolve().parent.parent


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rotations", type=int, default=30)
    parser.add_argument("--import-repeats", type=int, default=7)
    args = parser.parse_args(argv)

    print("starting MariaDB (serving TLS with a CA made for this run) and moto's server...")
    tls_dir = Path(tempfile.mkdtemp(prefix="bluegreen-bench-tls-"))
    tls = make_tls_files(tls_dir)
    db, moto = MariaDB(tls=tls).start(), MotoServer().start()
    # Both functions encrypt: ours verifies the server (verify-full, the default), the baseline
    # negotiates TLS the way pymysql does by default.
    env = aws_environment(moto.endpoint) | {
        "DB_TLS_MODE": "verify-full",
        "DB_TLS_CA_FILE": str(tls.ca_cert),
        "ROTATION_GRACE_SECONDS": "0",
        "PARAMETER_PREFIX": "/db/bench",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    try:
        with patched_environ(env):
            from bluegreen_rotation.aws import secretsmanager_client, ssm_client

            driver_client = boto3.client("secretsmanager")  # the "service": its calls are not counted
            ours_app = seed_application(
                db, driver_client, name="bench/ours", username="ours", dbname="oursdb"
            )
            base_app = seed_application(
                db, driver_client, name="bench/base", username="base", dbname="basedb"
            )
            ours_driver = RotationDriver(driver_client, stepwise(rotation_handler()), max_attempts=1)
            base_sm = baseline_multiuser.client()
            base_driver = RotationDriver(
                driver_client, baseline_multiuser.make_handler(base_sm), max_attempts=1
            )
            # Warm both (first rotation creates the partner user; clients connect), then measure.
            ours_driver.rotate(ours_app.secret_arn)
            base_driver.rotate(base_app.secret_arn)
            print(f"measuring {args.rotations} rotations of each, interleaved in blocks of 10...")
            ours: dict[str, Any] = {}
            base: dict[str, Any] = {}
            for block in range(0, args.rotations, 10):
                n = min(10, args.rotations - block)
                for result, drv, arn, clients in (
                    (ours, ours_driver, ours_app.secret_arn, [secretsmanager_client(), ssm_client()]),
                    (base, base_driver, base_app.secret_arn, [base_sm]),
                ):
                    part = run_rotations(drv, arn, n, clients)
                    for key, value in part.items():
                        if key in ("steps", "step_commands", "step_connections"):
                            steps = result.setdefault(key, {s: [] for s in STEPS})
                            for s in STEPS:
                                steps[s].extend(value[s])
                        elif key == "by_api":
                            result["by_api"] = value
                        else:
                            result.setdefault(key, []).extend(value)
            # Worst case: every step lands in a fresh execution environment (no version cache).
            import app as app_module

            def cold_handler(event: dict[str, Any], context: Any) -> Any:
                app_module._store = None
                return app_module.lambda_handler(event, context)

            cold_driver = RotationDriver(driver_client, cold_handler, max_attempts=1)
            cold = run_rotations(cold_driver, ours_app.secret_arn, 3, [secretsmanager_client(), ssm_client()])
        print("measuring cold import time in fresh interpreters...")
        t_app = import_time("import app", args.import_repeats, POWERTOOLS_TRACE_DISABLED="false")
        t_app_notrace = import_time("import app", args.import_repeats, POWERTOOLS_TRACE_DISABLED="true")
        t_boto = import_time("import boto3", args.import_repeats)
    finally:
        moto.stop()
        db.stop()
        shutil.rmtree(tls_dir, ignore_errors=True)

    print()
    print(
        f"Rotation on the local stack over TLS, median of {args.rotations} (ms);"
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
    print(
        f"{'AWS API calls':<28}{statistics.median(ours['aws']):>14.0f}{statistics.median(base['aws']):>12.0f}"
    )
    print(
        f"{'DB connections':<28}{statistics.median(ours['connections']):>14.0f}{statistics.median(base['connections']):>12.0f}"
    )
    print(
        f"{'DB commands (round trips)':<28}{statistics.median(ours['commands']):>14.0f}{statistics.median(base['commands']):>12.0f}"
    )
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
    print(f"cold import (median of {args.import_repeats} fresh interpreters):")
    print(f"  import boto3 alone                  {t_boto * 1000:6.0f} ms   1.00")
    print(f"  import app, tracing on (X-Ray SDK)  {t_app * 1000:6.0f} ms   {t_app / t_boto:.2f}")
    print(
        f"  import app, POWERTOOLS_TRACE_DISABLED {t_app_notrace * 1000:4.0f} ms   {t_app_notrace / t_boto:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
