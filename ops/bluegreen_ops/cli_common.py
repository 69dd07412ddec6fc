"""What every ``bluegreen`` command shares: exit codes, masked output, AWS clients, the secret's facts.

Output goes through :class:`Output`, which masks every password the command has read (raw,
percent-encoded and JSON-escaped) and the password part of any URL, so a credential can reach the
terminal only by a bug in two places at once. Progress goes to stderr, results to stdout, so
``--output json`` stays parseable.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import shlex
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

import boto3
import click
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from bluegreen_db.dburl import REDACTED, parse_url
from bluegreen_db.naming import ParameterNames, Role
from bluegreen_rotation.config import Settings
from bluegreen_rotation.database import Endpoint
from bluegreen_rotation.errors import InvalidInputError, RotationError
from bluegreen_rotation.mirror import Mirror
from bluegreen_rotation.secret import DbSecret, MasterSecret
from bluegreen_rotation.secrets_store import CURRENT, PENDING, PREVIOUS, SecretState, SecretStore, error_code

from .driver import PLACEHOLDER_LAMBDA_ARN

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INCONSISTENT = 3
EXIT_REFUSED = 4

OUTPUT_FORMATS = ("table", "json")
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=15,
    user_agent_extra="bluegreen-cli",
)
# scheme://user:password@ -> scheme://user:***@ (any URL-shaped text, parsed or not)
_URL_CREDENTIALS_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@]*):[^\s@/]+@")
_MIN_MASKED_LENGTH = 4
# Operations whose error text AWS may fill with the request's values (a URL, a password).
_SENSITIVE_OPERATIONS = {"PutParameter", "PutSecretValue", "GetRandomPassword"}

F = TypeVar("F", bound=Callable[..., Any])


ERROR_CODES = {
    EXIT_FAILURE: "failed",
    EXIT_USAGE: "usage",
    EXIT_INCONSISTENT: "inconsistent",
    EXIT_REFUSED: "refused",
}


@dataclass(frozen=True)
class Staged:
    """A version a refused or failed rotation left holding AWSPENDING, and the commands for it."""

    version_id: str
    retry: str
    clear: str

    def as_dict(self) -> dict[str, str]:
        return {"versionId": self.version_id, "stage": "AWSPENDING", "retry": self.retry, "clear": self.clear}


class CliError(click.ClickException):
    """A failure with a message for the operator and the exit code that goes with it.

    ``code`` is the machine-readable kind in the JSON error document; ``staged`` what the failed
    command left behind (None: nothing was staged).
    """

    def __init__(
        self,
        message: str,
        exit_code: int = EXIT_FAILURE,
        *,
        code: str | None = None,
        staged: Staged | None = None,
    ) -> None:
        super().__init__(message)
        self.status = exit_code
        self.code = code or ERROR_CODES.get(exit_code, "failed")
        self.staged = staged


class RefusedError(CliError):
    """A safety check refused the command; nothing was changed."""

    def __init__(self, message: str, *, staged: Staged | None = None) -> None:
        super().__init__(message, EXIT_REFUSED, staged=staged)


class Output:
    """Masked, format-aware output: progress to stderr, results to stdout."""

    def __init__(self, fmt: str = "table", *, quiet: bool = False) -> None:
        self.format = fmt
        self.quiet = quiet
        self._secrets: set[str] = set()

    @property
    def json(self) -> bool:
        return self.format == "json"

    def protect(self, *values: str | None) -> None:
        """Registers credentials to mask wherever they would appear, in every encoding we print."""
        for value in values:
            if value and len(value) >= _MIN_MASKED_LENGTH:
                self._secrets.update({value, quote(value, safe=""), json.dumps(value)[1:-1]})

    def protect_secret(self, secret: DbSecret | MasterSecret) -> None:
        self.protect(secret.password)

    def mask(self, text: str) -> str:
        for value in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(value, REDACTED)
        return _URL_CREDENTIALS_RE.sub(rf"\1:{REDACTED}@", text)

    def progress(self, message: str) -> None:
        if not self.quiet:
            click.echo(self.mask(message), err=True)

    def line(self, message: str = "") -> None:
        """A result line (table mode); in JSON mode results are the document, so this goes to stderr."""
        click.echo(self.mask(message), err=self.json)

    def document(self, doc: Any) -> None:
        click.echo(self.mask(json.dumps(doc, indent=2, default=_json_default)))

    def error(self, message: str) -> None:
        click.echo(self.mask(f"error: {message}"), err=True)

    def fail(
        self, message: str, exit_status: int, code: str | None = None, staged: Staged | None = None
    ) -> None:
        """An error: the ``error:`` line on stderr; with ``--output json`` also the error document."""
        self.error(message)
        if self.json:
            self.document(error_document(message, exit_status, code, staged))


def error_document(
    message: str, exit_status: int, code: str | None = None, staged: Staged | None = None
) -> dict[str, Any]:
    """The one JSON document of a command that failed or was refused (docs/cli-json.md)."""
    return {
        "ok": False,
        "exitStatus": exit_status,
        "error": {
            "code": code or ERROR_CODES.get(exit_status, "failed"),
            "message": message,
            "staged": staged.as_dict() if staged else None,
        },
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def describe_client_error(exc: ClientError) -> str:
    operation = getattr(exc, "operation_name", "the AWS call")
    code = error_code(exc)
    if operation in _SENSITIVE_OPERATIONS:
        message = "message withheld: the request carried a credential"
    else:
        message = str(exc.response.get("Error", {}).get("Message", "")) or "no message"
    hint = ""
    if "AccessDenied" in code or code in ("UnrecognizedClientException", "ExpiredTokenException"):
        hint = " (check the credentials and IAM permissions of the profile in use)"
    return f"{operation} failed: {code}: {message}{hint}"


def handle_errors(func: F) -> F:
    """Turns every expected failure into one masked ``error:`` line and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        out: Output = ctx.ensure_object(Output)
        code = "failed"
        try:
            return func(*args, **kwargs)
        except CliError as exc:
            out.fail(exc.message, exc.status, exc.code, exc.staged)
            ctx.exit(exc.status)
        except RotationError as exc:
            message = str(exc)
        except ClientError as exc:
            message = describe_client_error(exc)
            code = "aws-error"
        except (NoCredentialsError, PartialCredentialsError):
            message = "no AWS credentials found: pass --profile, or set AWS_PROFILE or AWS_ACCESS_KEY_ID"
            code = "no-credentials"
        except NoRegionError:
            message = "no AWS region: pass --region, or set AWS_REGION or AWS_DEFAULT_REGION"
            code = "no-region"
        except ProfileNotFound as exc:
            message = f"{exc} (see ~/.aws/config)"
            code = "no-profile"
        except EndpointConnectionError as exc:
            message = (
                f"cannot reach the AWS endpoint: {exc} (check AWS_ENDPOINT_URL, the network, the region)"
            )
            code = "unreachable"
        except BotoCoreError as exc:
            message = f"AWS call failed: {type(exc).__name__}: {exc}"
            code = "aws-error"
        out.fail(message, EXIT_FAILURE, code)
        ctx.exit(EXIT_FAILURE)

    return wrapper  # type: ignore[return-value]


def common_options(func: F) -> F:
    """The AWS CLI's conventions, on every command."""
    decorators = [
        click.option(
            "--secret-id",
            required=True,
            metavar="ARN|NAME",
            help="The rotated secret (ARN or name), as in `aws secretsmanager`.",
        ),
        click.option("--region", default=None, help="AWS region (default: the profile's or AWS_REGION)."),
        click.option("--profile", default=None, help="AWS named profile (default: AWS_PROFILE or default)."),
        click.option(
            "--parameter-prefix",
            default=None,
            metavar="PATH",
            help="Parameter Store prefix when the secret has no parameterPrefix "
            "(default: PARAMETER_PREFIX, else /db/{ENV}).",
        ),
        click.option(
            "--output",
            "output",
            type=click.Choice(OUTPUT_FORMATS),
            default="table",
            show_default=True,
            help="Output format.",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


@dataclass
class Env:
    """The clients, settings and output of one command run."""

    secret_id: str
    out: Output
    settings: Settings
    sm: SecretsManagerClient
    ssm: SSMClient
    prefix_option: str | None = None
    region: str | None = None
    profile: str | None = None
    store: SecretStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = SecretStore(self.sm)

    @property
    def emulator(self) -> str | None:
        """The Secrets Manager endpoint when it is a local emulator (a loopback address), else None.

        moto's RotateSecret never invokes a rotation function: against it, only ``--local`` rotates.
        """
        endpoint = getattr(getattr(self.sm, "meta", None), "endpoint_url", None)
        return endpoint if isinstance(endpoint, str) and is_loopback_url(endpoint) else None

    @property
    def sid(self) -> str:
        return shlex.quote(self.secret_id)

    def rotate_command(self, token: str | None = None) -> str:
        """The rotate-now command line for this secret (``--local`` on an emulator)."""
        local = " --local" if self.emulator else ""
        return f"bluegreen rotate-now{local} --secret-id {self.sid}" + (f" --token {token}" if token else "")

    def names_for(self, secret: DbSecret | None) -> ParameterNames:
        """The secret's ``parameterPrefix``, else ``--parameter-prefix``, PARAMETER_PREFIX, /db/{ENV}."""
        explicit = (secret.parameter_prefix if secret else None) or self.prefix_option
        explicit = explicit or self.settings.parameter_prefix
        try:
            return ParameterNames.for_prefix(explicit, {"ENV": self.settings.env})
        except ValueError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None

    def mirror_for(self, secret: DbSecret | None) -> Mirror:
        return Mirror(self.ssm, self.names_for(secret), self.settings.parameter_kms_key_id)

    def endpoint(self, host: str, port: int) -> Endpoint:
        s = self.settings
        return Endpoint(host, port, s.db_tls_mode, s.db_tls_ca_file, s.db_connect_timeout)

    def master(self, secret: DbSecret) -> MasterSecret:
        master = MasterSecret.parse(self.store.read_master(secret.masterarn), secret)
        self.out.protect_secret(master)
        return master


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_clients(region: str | None, profile: str | None) -> tuple[SecretsManagerClient, SSMClient]:
    """Plain boto3 clients from a session, so AWS_ENDPOINT_URL* redirect them like the function's."""
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
        return (
            session.client("secretsmanager", config=CLIENT_CONFIG),
            session.client("ssm", config=CLIENT_CONFIG),
        )
    except ProfileNotFound as exc:
        raise CliError(f"{exc} (see ~/.aws/config)") from None
    except NoRegionError:
        raise CliError("no AWS region: pass --region, or set AWS_REGION or AWS_DEFAULT_REGION") from None


def build_env(secret_id: str, region: str | None, profile: str | None, prefix: str | None, fmt: str) -> Env:
    out: Output = click.get_current_context().ensure_object(Output)
    out.format = fmt
    try:
        settings = Settings.from_env()
    except InvalidInputError as exc:
        raise CliError(f"bad configuration in the environment: {exc}", EXIT_USAGE) from None
    sm, ssm = make_clients(region, profile)
    return Env(
        secret_id=secret_id,
        out=out,
        settings=settings,
        sm=sm,
        ssm=ssm,
        prefix_option=prefix,
        region=region,
        profile=profile,
    )


@dataclass(frozen=True)
class SecretMeta:
    """DescribeSecret's answer: the stages (as the function sees them) and what an operator wants to see."""

    state: SecretState
    rotation_lambda_arn: str | None
    last_rotated: datetime | None
    next_rotation: datetime | None

    @property
    def arn(self) -> str:
        return self.state.arn

    def staged_versions(self) -> Iterator[tuple[str, list[str]]]:
        """Versions holding a stage, AWSCURRENT first, then AWSPENDING, AWSPREVIOUS and any other label."""
        order = {CURRENT: 0, PENDING: 1, PREVIOUS: 2}

        def rank(item: tuple[str, list[str]]) -> tuple[int, str]:
            return (min((order.get(s, 3) for s in item[1]), default=4), item[0])

        yield from sorted(((v, s) for v, s in self.state.versions.items() if s), key=rank)

    @property
    def stuck_pending(self) -> str | None:
        """The version holding AWSPENDING when it is not AWSCURRENT's: a rotation has not finished."""
        return self.state.unfinished_pending

    @property
    def function_name(self) -> str | None:
        if not self.rotation_lambda_arn or self.rotation_lambda_arn == PLACEHOLDER_LAMBDA_ARN:
            return None  # none, or the local driver's placeholder: there are no logs to tail
        return self.rotation_lambda_arn.split(":function:", 1)[-1].split(":", 1)[0]

    def logs_hint(self, since: str) -> str:
        """How to read the rotation function's logs: the one place the CLI names them.

        template.yaml's LoggingConfig writes to /aws/lambda/<stack>-rotation, not to
        /aws/lambda/<function name>, so the command asks Lambda which log group the function uses.
        """
        fn = self.function_name
        if fn is None:
            return "the rotation function's logs"
        group = (
            f"aws lambda get-function-configuration --function-name {fn} "
            "--query LoggingConfig.LogGroup --output text"
        )
        return f'`aws logs tail "$({group})" --since {since}` (template.yaml: /aws/lambda/<stack>-rotation)'


@dataclass(frozen=True)
class GuardSettings:
    """The settings setSecret's guards use, and where they were read."""

    grace_seconds: int
    session_policy: str
    source: str  # "the function" or "this shell"

    @classmethod
    def of_shell(cls, settings: Settings) -> GuardSettings:
        """This shell's: the settings the function runs with under ``--local``."""
        return cls(settings.rotation_grace_seconds, settings.active_session_policy, "this shell")

    def describe(self) -> str:
        return (
            f"ROTATION_GRACE_SECONDS={self.grace_seconds}, ACTIVE_SESSION_POLICY={self.session_policy} "
            f"(from {self.source})"
        )


_LAMBDA_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 2},
    connect_timeout=3,
    read_timeout=5,
    user_agent_extra="bluegreen-cli",
)


def read_function_variables(env: Env, function_arn: str) -> dict[str, str] | None:
    """The rotation function's environment variables (GetFunctionConfiguration), or None when they
    cannot be read (no lambda:GetFunctionConfiguration permission, another account, no network)."""
    try:
        session = boto3.Session(profile_name=env.profile, region_name=env.region)
        client: Any = session.client("lambda", config=_LAMBDA_CONFIG)
        config = client.get_function_configuration(FunctionName=function_arn)
    except (ClientError, BotoCoreError):
        return None
    variables = config.get("Environment", {}).get("Variables", {})
    return {str(k): str(v) for k, v in variables.items()}


def guard_settings(env: Env, meta: SecretMeta) -> GuardSettings:
    """ROTATION_GRACE_SECONDS and ACTIVE_SESSION_POLICY as the deployed function has them, when its
    configuration can be read; else this shell's (the same variables, the same defaults)."""
    shell = GuardSettings.of_shell(env.settings)
    if meta.function_name is None or meta.rotation_lambda_arn is None:
        return shell
    variables = read_function_variables(env, meta.rotation_lambda_arn)
    if variables is None:
        return shell
    try:
        function = Settings.from_env(
            {k: v for k, v in variables.items() if k in ("ROTATION_GRACE_SECONDS", "ACTIVE_SESSION_POLICY")}
        )
    except InvalidInputError:
        return shell  # the function itself would fail on them: its own error says so
    return GuardSettings(function.rotation_grace_seconds, function.active_session_policy, "the function")


def describe(env: Env) -> SecretMeta:
    try:
        meta = env.sm.describe_secret(SecretId=env.secret_id)
    except ClientError as exc:
        code = error_code(exc)
        if code == "ResourceNotFoundException":
            raise CliError(
                f"secret {env.secret_id!r} not found in this account and region", code="not-found"
            ) from None
        raise
    return SecretMeta(
        state=SecretState.from_description(meta),
        rotation_lambda_arn=meta.get("RotationLambdaARN"),
        last_rotated=meta.get("LastRotatedDate"),
        next_rotation=meta.get("NextRotationDate"),
    )


def read_version(env: Env, meta: SecretMeta, version_id: str, what: str) -> DbSecret | None:
    """One version parsed by the function's own parser (None: a placeholder with no value yet)."""
    stages = meta.state.versions.get(version_id, [])
    stage = next((s for s in (CURRENT, PENDING, PREVIOUS) if s in stages), stages[0] if stages else CURRENT)
    text = env.store.value(meta.arn, version_id, stage)
    if text is None:
        if holds_binary(env, meta.arn, version_id, stage):
            raise InvalidInputError(
                f"{what} holds a SecretBinary, not a SecretString: this rotation handles only JSON "
                "SecretString secrets (RDS/Aurora format)"
            )
        return None
    secret = DbSecret.parse(text, what)
    env.out.protect_secret(secret)
    return secret


def holds_binary(env: Env, arn: str, version_id: str, stage: str) -> bool:
    """Whether a version without a SecretString has a SecretBinary (not a placeholder without value)."""
    try:
        response = env.sm.get_secret_value(SecretId=arn, VersionId=version_id, VersionStage=stage)
    except ClientError:
        return False
    return "SecretBinary" in response and response.get("SecretString") is None


def read_stage(env: Env, meta: SecretMeta, stage: str) -> tuple[str, DbSecret] | None:
    vid = meta.state.version_with(stage)
    if vid is None:
        return None
    secret = read_version(env, meta, vid, f"{stage} version {vid}")
    if secret is None:
        raise CliError(f"{stage} version {vid} of {meta.arn} has no value")
    return vid, secret


@dataclass(frozen=True)
class UrlCheck:
    """How a URL parameter compares with a version of the secret. ``state``: ok, missing, malformed,
    wrong-user, stale (right user, other password/host/port/database). The scheme is not compared:
    it is the function's DB_URL_SCHEME, which this shell may not share."""

    state: str
    detail: str = ""
    user: str | None = None
    redacted: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == "ok"


def check_url(url: str | None, user: str, role: Role, secret: DbSecret | None) -> UrlCheck:
    """Compares a URL with the color's user and, when known, the version holding that user."""
    if url is None:
        return UrlCheck("missing", "parameter does not exist")
    try:
        parsed = parse_url(url)
    except ValueError as exc:
        return UrlCheck("malformed", str(exc))
    redacted = parsed.redacted()
    if parsed.username != user:
        return UrlCheck(
            "wrong-user", f"holds user {parsed.username!r}, not {user!r}", parsed.username, redacted
        )
    if secret is None:
        return UrlCheck(
            "ok", "no version of the secret to compare the password with", parsed.username, redacted
        )
    differences = []
    if parsed.password != secret.password:
        differences.append("password")
    if (parsed.host, parsed.port) != (secret.host_for(role), secret.port):
        differences.append(
            f"host {parsed.host}:{parsed.port} (expected {secret.host_for(role)}:{secret.port})"
        )
    if parsed.database != (secret.dbname or ""):
        differences.append(f"database {parsed.database!r} (expected {secret.dbname or ''!r})")
    if differences:
        return UrlCheck(
            "stale", "differs from the secret: " + ", ".join(differences), parsed.username, redacted
        )
    return UrlCheck("ok", "", parsed.username, redacted)


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return lines


def staged(env: Env, arn: str, version_id: str) -> Staged:
    return Staged(version_id, env.rotate_command(version_id), abandon_command(arn, version_id))


def abandon_command(arn: str, version_id: str) -> str:
    return (
        f"aws secretsmanager update-secret-version-stage --secret-id {arn} "
        f"--version-stage AWSPENDING --remove-from-version-id {version_id}"
    )
