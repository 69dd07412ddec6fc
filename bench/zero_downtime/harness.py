"""The stack every scenario runs on, one seeded application per scenario, and the load kept running
while the credentials change."""

from __future__ import annotations

import argparse
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from bluegreen_db.naming import ParameterNames
from bluegreen_ops.devstack.app_database import AppDatabase
from bluegreen_ops.devstack.engines import LocalEngine
from bluegreen_ops.devstack.environ import patched_environ
from bluegreen_ops.devstack.mariadb import MariaDB
from bluegreen_ops.devstack.moto_server import MotoServer, aws_environment
from bluegreen_ops.devstack.postgresql import PostgreSQL
from bluegreen_ops.devstack.seeding import seed_application

from .load import PG_WHO_SQL, SERVER_THREADS, WHO_SQL, Worker, engine_op, log, pymysql_op, running
from .rotations import Rotations

INITIAL_PASSWORD = "bench-initial-Passw0rd"
# Scenarios (``--only`` names) that run on PostgreSQL: its server is started only when one is chosen.
POSTGRESQL_SCENARIOS = frozenset({"postgres"})


@dataclass
class Seeded:
    """A scenario's own application: its secret, database user and Parameter Store prefix."""

    app: AppDatabase
    names: ParameterNames
    sm: Any
    ssm: Any
    who_sql: str = WHO_SQL  # the engine's query for the user logged in


class Harness:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.db = MariaDB()
        self.pg: PostgreSQL | None = None
        self.moto: MotoServer | None = None
        self.n = 0
        self.lambda_workers = args.workers // 2
        self.server_count = max(1, (args.workers - self.lambda_workers) // SERVER_THREADS)

    @contextmanager
    def stack(self) -> Iterator[None]:
        """MariaDB and moto's server (and PostgreSQL 15 when a scenario needs it), with the AWS
        environment pointing at moto, for the block."""
        log("starting MariaDB and moto's server")
        self.db.start()
        if POSTGRESQL_SCENARIOS & set(self.args.only.split(",")):
            log("starting PostgreSQL 15 (serving TLS with a CA made for this run)")
            self.pg = PostgreSQL().start()
        self.moto = MotoServer().start()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        env = {
            **aws_environment(self.moto.endpoint),
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        try:
            with patched_environ(env):
                yield
        finally:
            self.moto.stop()
            if self.pg is not None:
                self.pg.stop()
            self.db.stop()

    def _tls_env(self, engine: LocalEngine) -> dict[str, str]:
        """The function's and the layer's TLS settings for the engine's server."""
        if engine == "postgresql":
            ca = self.pg.ca_file if self.pg is not None else None
            if not ca:
                raise RuntimeError(
                    "the PostgreSQL server was not started: add a PostgreSQL scenario to --only"
                )
            return {
                "DB_TLS_MODE": "verify-full",
                "DB_TLS_CA_FILE": ca,
                "BLUEGREEN_DB_TLS_MODE": "verify-full",
                "BLUEGREEN_DB_TLS_CA_FILE": ca,
            }
        # The bench's MariaDB serves no TLS.
        return {
            "DB_TLS_MODE": "disable",
            "DB_TLS_CA_FILE": "",
            "BLUEGREEN_DB_TLS_MODE": "disable",
            "BLUEGREEN_DB_TLS_CA_FILE": "",
        }

    def application(
        self, policy: str, password: str = INITIAL_PASSWORD, engine: LocalEngine = "mysql"
    ) -> Seeded:
        """A fresh secret, user and prefix, so no scenario sees another's rotations."""
        self.n += 1
        prefix = f"/bench/zd{self.n}"
        os.environ.update(
            {
                "PARAMETER_PREFIX": prefix,
                **self._tls_env(engine),
                "ROTATION_GRACE_SECONDS": str(self.args.grace),
                "ACTIVE_SESSION_POLICY": policy,
            }
        )
        sm = boto3.client("secretsmanager")
        ssm = boto3.client("ssm")
        server: MariaDB | PostgreSQL = self.pg if engine == "postgresql" and self.pg else self.db
        app = seed_application(
            server,
            sm,
            name=f"bench/zd{self.n}-{uuid.uuid4().hex[:6]}",
            username=f"zd{self.n}",
            password=password,
            dbname=f"zd{self.n}",
        )
        who_sql = PG_WHO_SQL if engine == "postgresql" else WHO_SQL
        return Seeded(app, ParameterNames(prefix), sm, ssm, who_sql)

    def adopted(self, policy: str, engine: LocalEngine = "mysql") -> tuple[Seeded, Rotations]:
        """An application rotated once: green exists and the Parameter Store mirror is written."""
        seeded = self.application(policy, engine=engine)
        rotations = Rotations(seeded.sm, seeded.ssm, seeded.app, seeded.names, self.args.grace)
        rotations.rotate()
        return seeded, rotations

    def workers(
        self, tag: str, lambda_connect: Callable[[], Any], engines: list[Any], who_sql: str = WHO_SQL
    ) -> list[Worker]:
        """Lambda-style workers (one connect function each) and SERVER_THREADS threads per engine."""
        workers = [
            Worker(f"{tag}-lambda-{i}", "lambda", pymysql_op(lambda_connect(), who_sql))
            for i in range(self.lambda_workers)
        ]
        for s, engine in enumerate(engines):
            workers += [
                Worker(f"{tag}-server-{s}-{t}", "server", engine_op(engine, who_sql))
                for t in range(SERVER_THREADS)
            ]
        return workers

    def drive(
        self, tag: str, workers: list[Worker], engines: list[Any], count: int, change: Callable[[int], Any]
    ) -> tuple[list[Any], float]:
        """Keeps the load running while ``change(i)`` happens ``count`` times (see :meth:`changes`)."""
        with running(workers):
            results, end = self.changes(tag, count, change)
        for engine in engines:
            engine.dispose()
        return results, end

    def changes(self, tag: str, count: int, change: Callable[[int], Any]) -> tuple[list[Any], float]:
        """``change(i)`` ``count`` times under the caller's running load; returns its results and the
        end time (two TTLs after the last change, so every worker has had time to converge)."""
        results = []
        time.sleep(1.0)  # load before the first change
        for i in range(count):
            results.append(change(i))
            log(f"{tag}: change {i + 1}/{count} done ({results[-1][1]})")
        time.sleep(self.args.ttl * 2 + 0.5)
        return results, time.monotonic()
