"""The rotation benchmark's run: the stack over TLS, both functions warmed, then interleaved blocks."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

import boto3

from bench import baseline_multiuser
from bluegreen_ops.devstack.environ import patched_environ
from bluegreen_ops.devstack.function import rotation_handler
from bluegreen_ops.devstack.mariadb import MariaDB
from bluegreen_ops.devstack.moto_server import MotoServer, aws_environment
from bluegreen_ops.devstack.secrets_manager_driver import RotationDriver
from bluegreen_ops.devstack.seeding import seed_application
from bluegreen_ops.devstack.tls import make_tls_files

from . import __doc__ as package_doc
from .measure import import_time, merge, run_rotations, stepwise
from .report import print_report

BLOCK = 10  # rotations of one function before the other's turn, so drift hits both alike


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=package_doc, formatter_class=argparse.RawDescriptionHelpFormatter
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
            print(f"measuring {args.rotations} rotations of each, interleaved in blocks of {BLOCK}...")
            ours: dict[str, Any] = {}
            base: dict[str, Any] = {}
            for block in range(0, args.rotations, BLOCK):
                n = min(BLOCK, args.rotations - block)
                for result, drv, arn, clients in (
                    (ours, ours_driver, ours_app.secret_arn, [secretsmanager_client(), ssm_client()]),
                    (base, base_driver, base_app.secret_arn, [base_sm]),
                ):
                    merge(result, run_rotations(drv, arn, n, clients))
            # Worst case: every step lands in a fresh execution environment (no version cache).
            import app as app_module

            def cold_handler(event: dict[str, Any], context: Any) -> Any:
                app_module._store = None
                return app_module.lambda_handler(event, context)

            cold_driver = RotationDriver(driver_client, cold_handler, max_attempts=1)
            cold = run_rotations(cold_driver, ours_app.secret_arn, 3, [secretsmanager_client(), ssm_client()])
        print("measuring cold import time in fresh interpreters...")
        imports = {
            "app": import_time("import app", args.import_repeats, POWERTOOLS_TRACE_DISABLED="false"),
            "app untraced": import_time("import app", args.import_repeats, POWERTOOLS_TRACE_DISABLED="true"),
            "boto3": import_time("import boto3", args.import_repeats),
        }
    finally:
        moto.stop()
        db.stop()
        shutil.rmtree(tls_dir, ignore_errors=True)
    print_report(args.rotations, ours, base, cold, imports, args.import_repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
