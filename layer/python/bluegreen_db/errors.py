"""The consumer's errors, each saying what to fix; none ever carries a parameter's value.

Parameter Store failures arrive from botocore as ``ClientError`` (the service answered with an error
code) or ``BotoCoreError`` (no answer: network, credentials, timeouts). :func:`from_aws_error` maps
each to a :class:`ParameterStoreError` subclass naming the fix: the IAM action on the prefix, the KMS
key policy, the throttling quota, the network path. The original botocore error stays chained as
``__cause__`` (it names the operation and the principal, never a value: ``GetParameters`` requests
carry names only, and error responses never echo a SecureString).

Error codes, from the GetParameters API reference
(https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameters.html) and the
common errors page (https://docs.aws.amazon.com/systems-manager/latest/APIReference/CommonErrors.html):
``InvalidKeyId`` (the SecureString's KMS key is unusable), ``InternalServerError``,
``AccessDeniedException``, ``ThrottlingException``. A KMS denial on decrypt comes back from SSM as
``AccessDeniedException`` whose message names ``kms:Decrypt`` or the key
(https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-access.html), so the
message, not only the code, decides between the IAM and the KMS hint.
"""

from __future__ import annotations

from typing import Any


class BlueGreenError(Exception):
    """Base class of the consumer's own errors."""


class ParameterMissingError(BlueGreenError, LookupError):
    """Parameter Store lacks a parameter the consumer needs; the message names it."""

    def __init__(self, names: list[str], hint: str) -> None:
        self.names = names
        plural = "s" if len(names) > 1 else ""
        super().__init__(f"Parameter Store has no parameter{plural} {', '.join(names)}: {hint}")

    def __str__(self) -> str:
        # LookupError's str would quote the message; keep it plain.
        return str(self.args[0])


class ParameterInvalidError(BlueGreenError, ValueError):
    """A parameter exists but its value is unusable; the message names it (never a URL's password)."""


class ParameterStoreError(BlueGreenError):
    """Parameter Store could not be read. Transient or not, a fresh-enough snapshot is served instead
    (``stale_if_error``); these surface only when there is none.

    :attr code: the AWS error code (or the botocore exception's class name).
    """

    def __init__(self, message: str, code: str = "") -> None:
        self.code = code
        super().__init__(message)


class ParameterStoreAccessDeniedError(ParameterStoreError):
    """The caller's IAM identity may not call ``ssm:GetParameters`` on the prefix."""


class ParameterStoreDecryptError(ParameterStoreError):
    """A SecureString could not be decrypted: the KMS key is missing, disabled or not granted."""


class ParameterStoreThrottledError(ParameterStoreError):
    """Parameter Store throttled the call past botocore's retries."""


class ParameterStoreUnavailableError(ParameterStoreError):
    """No answer from Parameter Store (network, endpoint, credentials, a server error)."""


class RefreshTimeoutError(ParameterStoreUnavailableError):
    """A refresh did not finish within the consumer's refresh timeout."""


class TlsError(BlueGreenError):
    """A database connection could not be made with the TLS the settings require (never downgraded)."""


class UnsupportedSchemeError(BlueGreenError, ValueError):
    """A database URL's scheme names no driver the consumers have (see :mod:`bluegreen_db.drivers`)."""

    def __init__(self, scheme: str, supported: list[str]) -> None:
        self.scheme = scheme
        self.supported = supported
        super().__init__(
            f"no driver for the database URL scheme {scheme!r}: the supported schemes are "
            f"{', '.join(supported)} (the rotation's DB_URL_SCHEME)"
        )


_THROTTLING = {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
_ACCESS_DENIED = {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"}
_KMS_CODES = {"InvalidKeyId", "KMSAccessDeniedException", "KMSDisabledException", "KMSNotFoundException"}
_CREDENTIALS = {"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException"}


def from_aws_error(exc: BaseException, prefix: str) -> ParameterStoreError | None:
    """The :class:`ParameterStoreError` for a botocore exception; ``None`` if ``exc`` is not botocore's."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        error: dict[str, Any] = dict(exc.response.get("Error", {}))
        code = str(error.get("Code", "") or "Unknown")
        message = str(error.get("Message", "") or "")
        return _from_code(code, message, prefix)
    if isinstance(exc, BotoCoreError):
        name = type(exc).__name__
        if name in {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"}:
            hint = "no AWS credentials were found: give the function or host an IAM role"
        elif name == "NoRegionError":
            hint = "no AWS region is set: set AWS_REGION (or AWS_DEFAULT_REGION)"
        else:
            hint = (
                "check the network path to the SSM endpoint (VPC endpoint com.amazonaws.<region>.ssm "
                "or a NAT gateway, security groups)"
            )
        return ParameterStoreUnavailableError(
            f"could not read the blue/green parameters under {prefix}: {name}: {hint}", name
        )
    return None


def _from_code(code: str, message: str, prefix: str) -> ParameterStoreError:
    where = f"reading the blue/green parameters under {prefix} failed with {code}"
    lowered = message.lower()
    if code in _KMS_CODES or (code in _ACCESS_DENIED and "kms" in lowered):
        return ParameterStoreDecryptError(
            f"{where}: the SecureString URLs could not be decrypted. Allow kms:Decrypt on the "
            "parameters' KMS key for this identity (in the key policy, and in its IAM policy with a "
            "kms:ViaService = ssm.<region>.amazonaws.com condition), and check the key is enabled. "
            f"AWS said: {message}",
            code,
        )
    if code in _ACCESS_DENIED:
        return ParameterStoreAccessDeniedError(
            f"{where}: allow ssm:GetParameters on arn:aws:ssm:<region>:<account>:parameter{prefix}/* "
            f"in this identity's IAM policy. AWS said: {message}",
            code,
        )
    if code in _THROTTLING:
        return ParameterStoreThrottledError(
            f"{where}: Parameter Store throttled this account past botocore's retries. Raise the "
            "consumers' BLUEGREEN_CACHE_TTL, share one consumer per process, use AWS_RETRY_MODE=adaptive, "
            "or read through the AWS Parameters and Secrets Lambda Extension (or raise the account's "
            "GetParameters throughput setting).",
            code,
        )
    if code in _CREDENTIALS:
        return ParameterStoreUnavailableError(
            f"{where}: the AWS credentials were refused; check the role or the session token. "
            f"AWS said: {message}",
            code,
        )
    return ParameterStoreUnavailableError(
        f"{where}: Parameter Store could not answer; the call is retried at the next refresh. "
        f"AWS said: {message}",
        code,
    )
