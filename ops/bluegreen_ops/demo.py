"""A live demo: three rotations of a local stack while a client keeps querying through the layer.

Starts MariaDB (or PostgreSQL 15 with ``--engine postgres``) and moto's server, adopts a single-user
secret, starts a client that reads the flag and URLs through the consumer layer (cache TTL 1 s) and
queries continuously, then runs three rotations through the Secrets Manager driver (grace 3 s, just
above the TTL) and prints what changed at each: the flag, the users of AWSCURRENT and AWSPREVIOUS,
and the client's failed queries (zero).

Run: ``make demo`` (or ``python -m bluegreen_ops.demo``); ``make demo ENGINE=postgres`` runs the same
rotations against PostgreSQL. Either server serves TLS with a CA made for the run, and the function and
the layer both verify it (``verify-full``), as in production.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3

from bluegreen_db.consumer import BlueGreenConsumer
from bluegreen_ops.devstack.engines import LABELS, LocalEngine, local_engine
from bluegreen_ops.devstack.environ import patched_environ
from bluegreen_ops.devstack.function import rotation_handler
from bluegreen_ops.devstack.mariadb import MariaDB
from bluegreen_ops.devstack.moto_server import MotoServer, aws_environment
from bluegreen_ops.devstack.postgresql import PostgreSQL
from bluegreen_ops.devstack.secrets_manager_driver import RotationDriver
from bluegreen_ops.devstack.seeding import seed_application
from bluegreen_ops.devstack.tls import make_tls_files

PREFIX = "/db/demo"
TTL_SECONDS = 1.0
GRACE_SECONDS = 3
# CURRENT_USER without parentheses is standard SQL: MariaDB and PostgreSQL both accept it.
CLIENT_SQL = "SELECT CURRENT_USER, COUNT(*) FROM items"


class Client(threading.Thread):
    """A consumer as a Lambda would be: the layer's cached flag and URLs, a new connection per query."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.consumer = BlueGreenConsumer(PREFIX, ttl=TTL_SECONDS)
        self.ok = 0
        self.failed = 0
        self.users: Counter[str] = Counter()
        self.errors: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                with self.consumer.connect("writer") as conn, conn.cursor() as cur:
                    cur.execute(CLIENT_SQL)
                    user = str(cur.fetchone()[0]).split("@")[0]
                self.ok += 1
                self.users[user] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                self.failed += 1
                self.errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.01)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


def _stage_users(sm: Any, arn: str) -> tuple[str, str]:
    def user(stage: str) -> str:
        try:
            value = sm.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"]
        except sm.exceptions.ResourceNotFoundException:
            return "-"
        return str(json.loads(value)["username"])

    return user("AWSCURRENT"), user("AWSPREVIOUS")


def _flag(ssm: Any) -> str:
    try:
        return str(ssm.get_parameter(Name=f"{PREFIX}/blue-green-env")["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return "(none)"


def _start_database(engine: LocalEngine) -> tuple[MariaDB | PostgreSQL, dict[str, str]]:
    """The engine's server, started, and the TLS settings the function and the layer use with it."""
    if engine == "postgresql":
        pg = PostgreSQL().start()
        ca = pg.ca_file or ""
        return pg, {
            "DB_TLS_MODE": "verify-full",
            "DB_TLS_CA_FILE": ca,
            "BLUEGREEN_DB_TLS_MODE": "verify-full",
            "BLUEGREEN_DB_TLS_CA_FILE": ca,
        }
    # TLS as in production (verify-full), with a CA made for the run inside the server's work dir, so
    # stopping the server removes it too.
    workdir = Path(tempfile.mkdtemp(prefix="bluegreen-mariadb-"))
    tls = make_tls_files(workdir / "tls")
    ca = str(tls.ca_cert)
    return MariaDB(tls=tls, workdir=workdir).start(), {
        "DB_TLS_MODE": "verify-full",
        "DB_TLS_CA_FILE": ca,
        "BLUEGREEN_DB_TLS_MODE": "verify-full",
        "BLUEGREEN_DB_TLS_CA_FILE": ca,
    }


def _parse(argv: Sequence[str] | None) -> LocalEngine:
    parser = argparse.ArgumentParser(
        prog="python -m bluegreen_ops.demo", description="Three live rotations under a querying client."
    )
    parser.add_argument(
        "--engine",
        default="mariadb",
        help="mariadb (default) or postgres: the database server the demo rotates on",
    )
    args = parser.parse_args(argv)
    try:
        return local_engine(args.engine)
    except ValueError as exc:
        parser.error(str(exc))


def main(argv: Sequence[str] | None = None) -> int:
    engine = _parse(argv)
    out = sys.stdout
    out.write(f"Engine: {LABELS[engine]}\n")
    out.write("Starting the local stack: the database server (temp dir) and moto's server...\n")
    db, tls_env = _start_database(engine)
    moto = MotoServer().start()
    env = (
        aws_environment(moto.endpoint)
        | tls_env
        | {
            "PARAMETER_PREFIX": PREFIX,
            "ROTATION_GRACE_SECONDS": str(GRACE_SECONDS),
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    client: Client | None = None
    try:
        with patched_environ(env):
            os.environ.pop("LOG_LEVEL", None)
            from bluegreen_ops.operations.adopt import adopt_secret

            sm, ssm = boto3.client("secretsmanager"), boto3.client("ssm")
            app = seed_application(db, sm, name="demo/aurora", username="app", dbname="appdb")
            server = "PostgreSQL" if engine == "postgresql" else "MariaDB"
            tls = f"TLS {env['DB_TLS_MODE']}"
            out.write(f"{server} on 127.0.0.1:{db.port} ({tls}), moto on {moto.endpoint}\n")
            out.write(f"Adopted secret {app.secret_arn} (user 'app', database 'appdb')\n")
            adopt_secret(sm, ssm, app.secret_arn, prefix=PREFIX)
            out.write(f"Wrote the initial flag {PREFIX}/blue-green-env = {_flag(ssm)} and blue's URLs\n\n")
            client = Client()
            client.start()
            driver = RotationDriver(sm, rotation_handler())
            header = (
                f"{'rotation':<9} {'flag':<15} {'AWSCURRENT':<11} {'AWSPREVIOUS':<11} {'client ok':>9}"
                f" {'failed':>6}  users seen by the client since the previous row"
            )
            out.write(header + "\n" + "-" * len(header) + "\n")
            time.sleep(1.0)
            seen_before: Counter[str] = Counter()
            for n in range(1, 4):
                before = _flag(ssm)
                started = time.perf_counter()
                driver.rotate(app.secret_arn)
                took = (time.perf_counter() - started) * 1000
                # Let the client's cache expire and the grace period pass before the next rotation.
                time.sleep(GRACE_SECONDS + 0.3)
                current, previous = _stage_users(sm, app.secret_arn)
                seen = client.users - seen_before
                seen_before = Counter(client.users)
                users = ", ".join(f"{u} x{c}" for u, c in sorted(seen.items()))
                out.write(
                    f"#{n} {took:4.0f}ms {before + ' -> ' + _flag(ssm):<15} {current:<11} {previous:<11}"
                    f" {client.ok:>9} {client.failed:>6}  {users}\n"
                )
            client.stop()
            out.write(
                f"\n{server}: {client.ok} queries, {client.failed} failed. The flag went "
                f"blue -> green -> blue -> green; every user change was picked up without a restart.\n"
            )
            for error in client.errors[:5]:
                out.write(f"  client error: {error}\n")
            return 0 if client.failed == 0 else 1
    finally:
        if client is not None and client.is_alive():
            client.stop()
        moto.stop()
        db.stop()


if __name__ == "__main__":
    raise SystemExit(main())
