"""The options every command shares (the AWS CLI's conventions), and the run they build."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from bluegreen_rotation.config import Settings
from bluegreen_rotation.errors import InvalidInputError

from ..exit_codes import EXIT_USAGE
from ..operations.clients import make_clients
from ..operations.env import Env
from ..operations.errors import OperationError
from .render import Output

OUTPUT_FORMATS = ("table", "json")


F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class CommonOptions:
    """The options every command takes, as the AWS CLI spells them."""

    secret_id: str | None  # None only where the command allows it (``status --all``)
    region: str | None
    profile: str | None
    parameter_prefix: str | None
    output: str


def common_options(func: F) -> F:
    """The AWS CLI's conventions, on every command: passed to it as one ``options`` argument."""
    return _with_common_options(func, secret_id_required=True)


def common_options_secret_optional(func: F) -> F:
    """:func:`common_options` for a command that may run without ``--secret-id`` (``status --all``)."""
    return _with_common_options(func, secret_id_required=False)


def _with_common_options(func: F, *, secret_id_required: bool) -> F:
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        secret_id: str | None,
        region: str | None,
        profile: str | None,
        parameter_prefix: str | None,
        output: str,
        **kwargs: Any,
    ) -> Any:
        options = CommonOptions(secret_id, region, profile, parameter_prefix, output)
        return func(*args, options=options, **kwargs)

    decorators = [
        click.option(
            "--secret-id",
            required=secret_id_required,
            default=None,
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
    command: Any = wrapper
    for decorator in reversed(decorators):
        command = decorator(command)
    return command  # type: ignore[no-any-return]


def output_for(options: CommonOptions) -> Output:
    """This command's masked output, in the format it asked for (errors too are rendered in it)."""
    out: Output = click.get_current_context().ensure_object(Output)
    out.format = options.output
    return out


def build_env(options: CommonOptions, *, fleet: bool = False) -> tuple[Env, Output]:
    """The run of one command: this shell's settings, clients for its region/profile, masked output.

    ``fleet``: a run over many secrets (``status --all``), named per secret from a listing, so the
    run itself names none.
    """
    out = output_for(options)
    sid = "" if fleet else options.secret_id
    if sid is None:
        raise click.UsageError("Missing option '--secret-id'.")
    try:
        settings = Settings.from_env()
    except InvalidInputError as exc:
        raise OperationError(f"bad configuration in the environment: {exc}", EXIT_USAGE) from None
    sm, ssm = make_clients(options.region, options.profile)
    env = Env(
        secret_id=sid,
        out=out,
        settings=settings,
        sm=sm,
        ssm=ssm,
        prefix_option=options.parameter_prefix,
        region=options.region,
        profile=options.profile,
    )
    return env, out
