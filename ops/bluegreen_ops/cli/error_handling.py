"""Every expected failure of a command as one masked ``error:`` line and its exit code."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from bluegreen_rotation.errors import RotationError

if TYPE_CHECKING:
    pass
from ..exit_codes import EXIT_FAILURE
from ..operations.errors import OperationError, describe_client_error
from .render import Output

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Turns every expected failure into one masked ``error:`` line and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        out: Output = ctx.ensure_object(Output)
        code = "failed"
        try:
            return func(*args, **kwargs)
        except OperationError as exc:
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
