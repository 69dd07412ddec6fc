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
from bluegreen_rotation.secrets_store import error_code

if TYPE_CHECKING:
    pass
from ..exit_codes import EXIT_FAILURE
from ..operations.errors import OperationError
from .render import Output

# Operations whose error text AWS may fill with the request's values (a URL, a password).
_SENSITIVE_OPERATIONS = {"PutParameter", "PutSecretValue", "GetRandomPassword"}

F = TypeVar("F", bound=Callable[..., Any])


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
