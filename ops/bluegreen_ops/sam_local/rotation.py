"""Rotations of the local stack's secret, each step in its own ``sam local invoke`` container.

:func:`local_rotation` brings up everything a rotation needs and tears it down on exit: ``sam build``,
the private engine, the stand-in image, the database server (MariaDB, or PostgreSQL 15 with
``engine="postgresql"``) and moto on the engine's bridge gateway (the only host address containers
reach), and a seeded secret. :class:`LocalRotation` then plays Secrets Manager's
part (the bookkeeping of
:class:`~bluegreen_ops.devstack.secrets_manager_driver.RotationDriver`: the placeholder AWSPENDING
version, then AWSPENDING removed) around four ``sam local invoke RotationFunction`` calls, one per step, with
the events of ``events/`` filled in (or around testSecret alone: the configuration test); and
invokes ``ConsumerFunction``, the example consumer, which reads the live color through the
``bluegreen_db`` layer from ``/opt/python``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from bluegreen_db.dburl import redact
from bluegreen_db.naming import COLORS, ROLES, ParameterNames, resolve_prefix
from bluegreen_ops.devstack.app_database import AppDatabase
from bluegreen_ops.devstack.engines import LABELS, LocalEngine
from bluegreen_ops.devstack.mariadb import MariaDB
from bluegreen_ops.devstack.moto_server import REGION, MotoServer, aws_environment
from bluegreen_ops.devstack.postgresql import PostgreSQL
from bluegreen_ops.devstack.secrets_manager_driver import STEPS, RotationDriver, RotationFailedError
from bluegreen_ops.devstack.seeding import seed_application
from bluegreen_ops.devstack.tls import make_tls_files

from .engine import DockerEngine, docker_engine
from .errors import InvokeError
from .image import ensure_image
from .paths import EVENTS_DIR, TEMPLATE
from .procs import Log, stderr_log
from .sam import build_parameter_overrides, is_error_payload, sam_build
from .sam import invoke as sam_local_invoke

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

ROTATION_FUNCTION = "RotationFunction"
CONSUMER_FUNCTION = "ConsumerFunction"

# Settings the container flow needs on top of events/env.json. The local server serves TLS with a
# throwaway CA that is not inside the container, so the function encrypts without verifying
# (`require`); grace 0 lets the second rotation flip straight back, which a demo needs.
LOCAL_ROTATION_ENV = {"DB_TLS_MODE": "require", "DB_TLS_CA_FILE": "", "ROTATION_GRACE_SECONDS": "0"}

# Each engine's secret and parameters under names of their own, so flows of both engines can share one
# moto backend (it lives as long as the process: the container test runs both) without meeting.
SECRET_NAMES: dict[LocalEngine, str] = {"mysql": "app/aurora", "postgresql": "app/aurora-postgresql"}
PREFIXES: dict[LocalEngine, str | None] = {"mysql": None, "postgresql": "/db/dev-postgresql"}


@dataclass
class MaskedMirror:
    """What Parameter Store and the secret say, with every password masked."""

    flag: str | None
    current_username: str
    urls: dict[str, str]

    def lines(self) -> list[str]:
        out = [f"flag {self.flag or '(absent)'}; AWSCURRENT user {self.current_username}"]
        out += [f"  {name:<13} {url}" for name, url in self.urls.items()]
        return out


@dataclass
class StepOutcome:
    function: str
    step: str
    payload: Any
    logs: str
    seconds: float


@dataclass
class RotationOutcome:
    token: str
    before: MaskedMirror
    after: MaskedMirror
    steps: list[StepOutcome]
    seconds: float


def _raise_on_error(what: str, payload: Any, logs: str) -> None:
    if is_error_payload(payload):
        raise InvokeError(
            f"{what} failed: {payload.get('errorType')}: {payload.get('errorMessage')}", payload, logs
        )


@dataclass
class LocalRotation:
    """Runs rotations of the local stack's secret through ``sam local invoke`` containers."""

    engine: DockerEngine
    image: str
    moto: MotoServer
    db: MariaDB | PostgreSQL
    app: AppDatabase
    secretsmanager: SecretsManagerClient
    ssm: SSMClient
    workdir: Path
    events_dir: Path = EVENTS_DIR
    template: Path = TEMPLATE
    function_env: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def aws_env(self) -> dict[str, str]:
        """SAM's own environment: moto for its STS look-up, and the credentials it hands the container."""
        return aws_environment(self.moto.endpoint)

    @property
    def prefix(self) -> str:
        """The parameter prefix the rotation function resolves from its environment."""
        return resolve_prefix(None, self.function_env.get(ROTATION_FUNCTION, {}))

    @property
    def parameter_overrides(self) -> dict[str, str]:
        return build_parameter_overrides(
            self.template,
            {
                "SecretArn": self.app.secret_arn,
                "MasterSecretArn": self.app.master_arn,
                "AwsEndpointUrl": self.moto.endpoint,
            },
        )

    def write_env_file(self) -> Path:
        """``events/env.json`` with the local endpoints filled in (and the demo's safety settings)."""
        source = self.events_dir / "env.json"
        env: dict[str, dict[str, str]] = json.loads(source.read_text()) if source.exists() else {}
        env.setdefault(ROTATION_FUNCTION, {})
        env.setdefault(CONSUMER_FUNCTION, {})
        for function, variables in env.items():
            variables["AWS_ENDPOINT_URL"] = self.moto.endpoint
            variables.update(self.function_env.get(function, {}))
        self.function_env = env
        path = self.workdir / "env.json"
        path.write_text(json.dumps(env, indent=2) + "\n")
        return path

    def write_event(self, step: str, token: str) -> Path:
        """``events/<step>.json`` with the live secret ARN and this rotation's token."""
        source = self.events_dir / f"{step}.json"
        event: dict[str, Any] = json.loads(source.read_text()) if source.exists() else {"Step": step}
        event.update({"Step": step, "SecretId": self.app.secret_arn, "ClientRequestToken": token})
        event.pop("RotationToken", None)
        path = self.workdir / f"{step}-{token[:8]}.json"
        path.write_text(json.dumps(event) + "\n")
        return path

    def invoke(self, function: str, event_path: Path, env_path: Path) -> tuple[Any, str, float]:
        started = time.monotonic()
        payload, logs = sam_local_invoke(
            function,
            event_path,
            env_path,
            image=self.image,
            docker_host=self.engine.host,
            extra_env=self.aws_env,
            parameter_overrides=self.parameter_overrides,
        )
        return payload, logs, time.monotonic() - started

    def state(self) -> MaskedMirror:
        names = ParameterNames(self.prefix)
        got = self.ssm.get_parameters(Names=names.all(), WithDecryption=True)
        values = {p["Name"]: p.get("Value", "") for p in got.get("Parameters", [])}
        # VersionStage explicitly: moto's default version lags behind UpdateSecretVersionStage.
        latest = self.secretsmanager.get_secret_value(SecretId=self.app.secret_arn, VersionStage="AWSCURRENT")
        current = json.loads(latest["SecretString"])
        urls: dict[str, str] = {}
        for color in COLORS:
            for role in ROLES:
                value = values.get(names.url(color, role))
                urls[f"{color} {role}"] = redact(value) if value else "(absent)"
        return MaskedMirror(values.get(names.flag), str(current.get("username")), urls)

    def rotate(self, on_step: Callable[[StepOutcome], None] | None = None) -> RotationOutcome:
        """One rotation as Secrets Manager runs it, each step in its own ``sam local invoke``."""
        started = time.monotonic()
        before = self.state()
        env_path = self.write_env_file()
        driver = RotationDriver(client=self.secretsmanager, handler=lambda event, context: None)
        token = driver.start(self.app.secret_arn, str(uuid.uuid4()))
        steps: list[StepOutcome] = []
        for step in STEPS:
            payload, logs, seconds = self.invoke(ROTATION_FUNCTION, self.write_event(step, token), env_path)
            outcome = StepOutcome(ROTATION_FUNCTION, step, payload, logs, seconds)
            steps.append(outcome)
            if on_step:
                on_step(outcome)
            _raise_on_error(step, payload, logs)
        driver.finish(self.app.secret_arn, token)
        return RotationOutcome(token, before, self.state(), steps, time.monotonic() - started)

    def configuration_test(self, on_step: Callable[[StepOutcome], None] | None = None) -> RotationOutcome:
        """RotateSecret with RotateImmediately=false, as the service runs it: testSecret alone, in its
        own ``sam local invoke``, on a copy of AWSCURRENT staged as AWSPENDING, then removed."""
        started = time.monotonic()
        before = self.state()
        env_path = self.write_env_file()
        steps: list[StepOutcome] = []

        def invoke_step(event: dict[str, Any], _context: Any) -> None:
            step, token = event["Step"], event["ClientRequestToken"]
            payload, logs, seconds = self.invoke(ROTATION_FUNCTION, self.write_event(step, token), env_path)
            steps.append(StepOutcome(ROTATION_FUNCTION, step, payload, logs, seconds))
            if on_step:
                on_step(steps[-1])
            _raise_on_error(step, payload, logs)

        driver = RotationDriver(client=self.secretsmanager, handler=invoke_step)
        try:
            token = driver.test_configuration(self.app.secret_arn)
        except RotationFailedError as exc:
            raise exc.last from None
        return RotationOutcome(token, before, self.state(), steps, time.monotonic() - started)

    def consumer(self, event: Mapping[str, Any] | None = None) -> StepOutcome:
        """The example consumer through the layer: returns the live color it read."""
        env_path = self.write_env_file()
        event_path = self.workdir / "consumer-event.json"
        event_path.write_text(json.dumps(dict(event or {})) + "\n")
        payload, logs, seconds = self.invoke(CONSUMER_FUNCTION, event_path, env_path)
        _raise_on_error(CONSUMER_FUNCTION, payload, logs)
        return StepOutcome(CONSUMER_FUNCTION, "invoke", payload, logs, seconds)


@contextlib.contextmanager
def local_rotation(
    *,
    log: Log = stderr_log,
    rotation_env: Mapping[str, str] | None = None,
    build: bool = True,
    db_engine: LocalEngine = "mysql",
) -> Iterator[LocalRotation]:
    """Everything ``make invoke`` needs, torn down on exit: build, engine, image, stack, seeded secret.

    ``db_engine`` is the database server the secret lives on; the function tells the engines apart by the
    secret's ``engine`` key, so the containers and their settings are the same for both.
    """
    if build:
        sam_build(log=log)
    with contextlib.ExitStack() as stack:
        docker = stack.enter_context(docker_engine(log=log))
        image = ensure_image(docker, log)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bluegreen-sam-local-")))
        started = time.monotonic()
        db = _database(db_engine, docker, workdir)
        stack.callback(db.stop)
        db.start()
        moto = MotoServer(host=docker.gateway).start()
        stack.callback(moto.stop)
        aws = aws_environment(moto.endpoint)
        client_args: dict[str, Any] = {
            "endpoint_url": moto.endpoint,
            "region_name": REGION,
            "aws_access_key_id": aws["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": aws["AWS_SECRET_ACCESS_KEY"],
        }
        secretsmanager = boto3.client("secretsmanager", **client_args)
        ssm = boto3.client("ssm", **client_args)
        app = seed_application(db, secretsmanager, name=SECRET_NAMES[db_engine])
        prefix = PREFIXES[db_engine]  # None: events/env.json's PARAMETER_PREFIX
        prefix_env = {"PARAMETER_PREFIX": prefix} if prefix else {}
        server = "PostgreSQL" if db_engine == "postgresql" else "MariaDB"
        log(
            f"local stack on {docker.gateway}: {server} :{db.port}, moto :{moto.port} "
            f"({time.monotonic() - started:.1f} s); engine {LABELS[db_engine]}"
        )
        rotation = LocalRotation(
            engine=docker,
            image=image,
            moto=moto,
            db=db,
            app=app,
            secretsmanager=secretsmanager,
            ssm=ssm,
            workdir=workdir,
            function_env={
                ROTATION_FUNCTION: {**LOCAL_ROTATION_ENV, **prefix_env, **(rotation_env or {})},
                # The stand-in server's certificate names the bridge gateway, not a DNS name the
                # consumer could verify; TLS is still required (never plaintext).
                CONSUMER_FUNCTION: {
                    "BLUEGREEN_DB_TLS_MODE": "require",
                    "BLUEGREEN_DB_TLS_CA_FILE": "",
                    **prefix_env,
                },
            },
        )
        rotation.write_env_file()
        yield rotation


def _database(engine: LocalEngine, docker: DockerEngine, workdir: Path) -> MariaDB | PostgreSQL:
    """The engine's server on the bridge gateway, its certificate naming that address (not started).

    PostgreSQL checks the client's address against ``pg_hba.conf``: containers connect from the
    bridge's /24, so that network may log in (with a password, as from the host itself).
    """
    if engine == "postgresql":
        bridge_network = str(ipaddress.ip_network(f"{docker.gateway}/24", strict=False))
        return PostgreSQL(host=docker.gateway, client_networks=(bridge_network,))
    return MariaDB(host=docker.gateway, tls=make_tls_files(workdir / "tls", (docker.gateway,)))
