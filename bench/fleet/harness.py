"""The fleet's stack: MariaDB, moto's server, the throttling proxy in front of its Parameter Store."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from bluegreen_ops.devstack.environ import patched_environ
from bluegreen_ops.devstack.faults import ThrottlingProxy
from bluegreen_ops.devstack.function import rotation_handler
from bluegreen_ops.devstack.mariadb import MariaDB
from bluegreen_ops.devstack.moto_server import MotoServer, aws_environment
from bluegreen_ops.devstack.secrets_manager_driver import Handler
from bluegreen_ops.devstack.seeding import seed_application


@dataclass
class Harness:
    """One MariaDB, one moto server and one proxy for every fleet size; each size seeds its own secrets."""

    db: MariaDB = field(default_factory=MariaDB)
    moto: MotoServer | None = None
    proxy: ThrottlingProxy | None = None
    sm: Any = None  # the "service"'s client: the driver's calls are not the function's
    handler: Handler | None = None

    @contextmanager
    def stack(self) -> Iterator[Harness]:
        self.db.start()
        self.moto = MotoServer().start()
        self.proxy = ThrottlingProxy(self.moto.port, rate=None)
        for noisy in ("werkzeug", "urllib3"):  # 50 threads overflow botocore's pool of 10: harmless
            logging.getLogger(noisy).setLevel(logging.ERROR)
        env = aws_environment(self.moto.endpoint) | {
            "AWS_ENDPOINT_URL_SSM": self.proxy.endpoint,  # only Parameter Store goes through the proxy
            "DB_TLS_MODE": "disable",
            "ROTATION_GRACE_SECONDS": "0",
            "ACTIVE_SESSION_POLICY": "fail",
        }
        try:
            with patched_environ(env):
                from bluegreen_rotation.aws import reset_clients

                reset_clients()  # the function's clients are made after the endpoints are set
                self.sm = boto3.client("secretsmanager", config=Config(max_pool_connections=64))
                self.handler = rotation_handler()
                yield self
        finally:
            self.proxy.close()
            self.moto.stop()
            self.db.stop()

    def seed_fleet(self, size: int) -> list[str]:
        """``size`` secrets, each with its own database, users and parameterPrefix; their ARNs."""
        arns = []
        for i in range(size):
            app = seed_application(
                self.db,
                self.sm,
                name=f"fleet/n{size}/s{i}",
                username=f"n{size}s{i}",
                dbname=f"fleet_n{size}_{i}",
                extra_secret={"parameterPrefix": f"/fleet/n{size}/s{i}"},
            )
            arns.append(app.secret_arn)
        return arns
