"""The rotation benchmark's run: per engine, the stack over TLS, both functions warmed, then blocks."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from bench import baseline_multiuser, baseline_multiuser_pg
from bluegreen_ops.devstack.engines import LABELS, LocalEngine, local_engine
from bluegreen_ops.devstack.environ import patched_environ
from bluegreen_ops.devstack.function import rotation_handler
from bluegreen_ops.devstack.mariadb import MariaDB
from bluegreen_ops.devstack.moto_server import MotoServer, aws_environment
from bluegreen_ops.devstack.postgresql import PostgreSQL
from bluegreen_ops.devstack.secrets_manager_driver import RotationDriver
from bluegreen_ops.devstack.seeding import seed_application
from bluegreen_ops.devstack.tls import make_tls_files

from . import __doc__ as package_doc
from .measure import import_time, merge, run_rotations, stepwise
from .report import EngineRun, print_imports, print_report

BLOCK = 10  # rotations of one function before the other's turn, so drift hits both alike

# The baseline each engine is measured against: AWS's documented multi-user algorithm for it.
BASELINES: dict[LocalEngine, ModuleType] = {"mysql": baseline_multiuser, "postgresql": baseline_multiuser_pg}


@contextmanager
def database(engine: LocalEngine) -> Iterator[tuple[MariaDB | PostgreSQL, str]]:
    """The engine's server serving TLS with a CA made for the run: (server, CA file), stopped after."""
    if engine == "postgresql":
        pg = PostgreSQL().start()
        try:
            yield pg, pg.ca_file or ""
        finally:
            pg.stop()
        return
    tls_dir = Path(tempfile.mkdtemp(prefix="bluegreen-bench-tls-"))
    tls = make_tls_files(tls_dir)
    db = MariaDB(tls=tls).start()
    try:
        yield db, str(tls.ca_cert)
    finally:
        db.stop()
        shutil.rmtree(tls_dir, ignore_errors=True)


def measure_engine(engine: LocalEngine, moto: MotoServer, rotations: int) -> EngineRun:
    """This project's rotation and the engine's baseline, interleaved on one server, plus cold steps.

    One moto server serves every engine's run: the function keeps its AWS clients (and their
    endpoint) for the life of the process, as a warm Lambda does.
    """
    print(f"\n[{LABELS[engine]}]")
    print("starting the database server (serving TLS with a CA made for this run)...")
    with database(engine) as (db, ca_file):
        # Both functions encrypt: ours verifies the server (verify-full, the default), the baseline
        # negotiates TLS the way its driver does by default.
        env = aws_environment(moto.endpoint) | {
            "DB_TLS_MODE": "verify-full",
            "DB_TLS_CA_FILE": ca_file,
            "ROTATION_GRACE_SECONDS": "0",
            "PARAMETER_PREFIX": f"/db/bench/{engine}",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        with patched_environ(env):
            return _measure(engine, db, rotations)


def _measure(engine: LocalEngine, db: MariaDB | PostgreSQL, rotations: int) -> EngineRun:
    from bluegreen_rotation.aws import secretsmanager_client, ssm_client

    baseline = BASELINES[engine]
    driver_client = boto3.client("secretsmanager")  # the "service": its calls are not counted
    ours_app = seed_application(
        db, driver_client, name=f"bench/{engine}/ours", username="ours", dbname="oursdb"
    )
    base_app = seed_application(
        db, driver_client, name=f"bench/{engine}/base", username="base", dbname="basedb"
    )
    ours_driver = RotationDriver(driver_client, stepwise(rotation_handler()), max_attempts=1)
    base_sm = baseline.client()
    base_driver = RotationDriver(driver_client, stepwise(baseline.make_handler(base_sm)), max_attempts=1)
    # Warm both (first rotation creates the partner user; clients connect), then measure.
    ours_driver.rotate(ours_app.secret_arn)
    base_driver.rotate(base_app.secret_arn)
    print(f"measuring {rotations} rotations of each, interleaved in blocks of {BLOCK}...")
    ours: dict[str, Any] = {}
    base: dict[str, Any] = {}
    for block in range(0, rotations, BLOCK):
        n = min(BLOCK, rotations - block)
        for result, drv, arn, clients in (
            (ours, ours_driver, ours_app.secret_arn, [secretsmanager_client(), ssm_client()]),
            (base, base_driver, base_app.secret_arn, [base_sm]),
        ):
            merge(result, run_rotations(drv, arn, n, clients))
    cold_driver = RotationDriver(driver_client, _cold(rotation_handler()), max_attempts=1)
    cold = run_rotations(cold_driver, ours_app.secret_arn, 3, [secretsmanager_client(), ssm_client()])
    return EngineRun(engine, rotations, ours, base, cold)


def _cold(handler: Callable[[dict[str, Any], Any], Any]) -> Callable[[dict[str, Any], Any], Any]:
    """Worst case: every step lands in a fresh execution environment (no version cache)."""
    import app as app_module

    def cold_handler(event: dict[str, Any], context: Any) -> Any:
        app_module._store = None
        return handler(event, context)

    return cold_handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=package_doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rotations", type=int, default=30)
    parser.add_argument("--import-repeats", type=int, default=7)
    parser.add_argument(
        "--engine",
        default="both",
        help="mysql, postgresql or both (default): the engines measured, each against its baseline",
    )
    args = parser.parse_args(argv)
    try:
        engines: list[LocalEngine] = (
            ["mysql", "postgresql"] if args.engine == "both" else [local_engine(args.engine)]
        )
    except ValueError as exc:
        parser.error(str(exc))
    print("starting moto's server...")
    moto = MotoServer().start()
    try:
        runs = [measure_engine(engine, moto, args.rotations) for engine in engines]
    finally:
        moto.stop()
    print("\nmeasuring cold import time in fresh interpreters...")
    imports = {
        "app": import_time("import app", args.import_repeats, POWERTOOLS_TRACE_DISABLED="false"),
        "app untraced": import_time("import app", args.import_repeats, POWERTOOLS_TRACE_DISABLED="true"),
        "boto3": import_time("import boto3", args.import_repeats),
    }
    for run in runs:
        print_report(run)
    print_imports(imports, args.import_repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
