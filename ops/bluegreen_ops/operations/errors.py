"""What an operation refuses or fails with: a message for the operator, its exit code, what it left.

The CLI turns these into one masked ``error:`` line, a JSON error document and the exit code; the
operations themselves print nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from bluegreen_rotation.secrets_store import error_code

if TYPE_CHECKING:
    pass
from ..exit_codes import ERROR_CODES, EXIT_FAILURE, EXIT_REFUSED


@dataclass(frozen=True)
class Staged:
    """A version a refused or failed rotation left holding AWSPENDING, and the commands for it."""

    version_id: str
    retry: str
    clear: str

    def as_dict(self) -> dict[str, str]:
        return {"versionId": self.version_id, "stage": "AWSPENDING", "retry": self.retry, "clear": self.clear}


class OperationError(Exception):
    """A failure with a message for the operator and the exit code that goes with it.

    ``code`` is the machine-readable kind in the JSON error document; ``staged`` what the failed
    operation left behind (None: nothing was staged).
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
        self.message = message
        self.status = exit_code
        self.code = code or ERROR_CODES.get(exit_code, "failed")
        self.staged = staged


class RefusedError(OperationError):
    """A safety check refused the operation; nothing was changed."""

    def __init__(self, message: str, *, staged: Staged | None = None) -> None:
        super().__init__(message, EXIT_REFUSED, staged=staged)


def abandon_command(arn: str, version_id: str) -> str:
    return (
        f"aws secretsmanager update-secret-version-stage --secret-id {arn} "
        f"--version-stage AWSPENDING --remove-from-version-id {version_id}"
    )


# Operations whose error text AWS may fill with the request's values (a URL, a password).
_SENSITIVE_OPERATIONS = {"PutParameter", "PutSecretValue", "GetRandomPassword"}


def describe_client_error(exc: ClientError) -> str:
    """An AWS error as one line for the operator: the operation, the code, and AWS's message unless
    the request carried a credential AWS might echo."""
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
