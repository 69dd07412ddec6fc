"""Parameter Store failures become BlueGreenError subclasses that say what to fix (botocore Stubber)."""

from __future__ import annotations

import logging
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber

from bluegreen_db.consumer import BlueGreenConsumer
from bluegreen_db.dburl import build_url
from bluegreen_db.errors import (
    BlueGreenError,
    ParameterStoreAccessDeniedError,
    ParameterStoreDecryptError,
    ParameterStoreError,
    ParameterStoreThrottledError,
    ParameterStoreUnavailableError,
    from_aws_error,
)

PREFIX = "/db/errs"
PASSWORD = "pw-Never-In-An-Error-9"


def _stubbed(**kwargs: Any) -> tuple[BlueGreenConsumer, Stubber]:
    client = boto3.client("ssm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    stubber = Stubber(client)
    stubber.activate()
    consumer = BlueGreenConsumer(PREFIX, client=client, environ={}, ttl=60, tls_mode="disable", **kwargs)
    return consumer, stubber


def _ok_response() -> dict:
    url = build_url("mysql+pymysql", "app", PASSWORD, "db.example", 3306, "app")
    names = [f"{PREFIX}/blue-green-env", f"{PREFIX}/blue/writer-db-url", f"{PREFIX}/blue/reader-db-url"]
    values = ["blue", url, url]
    return {
        "Parameters": [
            {"Name": n, "Value": v, "Type": "SecureString"} for n, v in zip(names, values, strict=True)
        ],
        "InvalidParameters": [f"{PREFIX}/green/writer-db-url", f"{PREFIX}/green/reader-db-url"],
    }


CASES = [
    (
        "AccessDeniedException",
        "User: arn:aws:sts::123456789012:assumed-role/app/fn is not authorized to perform: "
        "ssm:GetParameters on resource: arn:aws:ssm:us-east-1:123456789012:parameter/db/errs/blue-green-env",
        ParameterStoreAccessDeniedError,
        ["ssm:GetParameters", f"parameter{PREFIX}/*", "IAM"],
    ),
    (
        "AccessDeniedException",
        "User: arn:aws:sts::123456789012:assumed-role/app/fn is not authorized to perform: kms:Decrypt "
        "on resource: arn:aws:kms:us-east-1:123456789012:key/1234abcd",
        ParameterStoreDecryptError,
        ["kms:Decrypt", "key policy"],
    ),
    ("InvalidKeyId", "The query key ID isn't valid.", ParameterStoreDecryptError, ["kms:Decrypt", "enabled"]),
    (
        "ThrottlingException",
        "Rate exceeded",
        ParameterStoreThrottledError,
        ["BLUEGREEN_CACHE_TTL", "Parameters and Secrets Lambda Extension", "adaptive"],
    ),
    ("InternalServerError", "", ParameterStoreUnavailableError, ["could not answer"]),
]


@pytest.mark.parametrize(("code", "message", "cls", "hints"), CASES)
def test_each_parameter_store_error_names_the_fix(code, message, cls, hints):
    consumer, stubber = _stubbed()
    stubber.add_client_error("get_parameters", service_error_code=code, service_message=message)
    with pytest.raises(cls) as err:
        consumer.current()
    assert isinstance(err.value, BlueGreenError)
    assert err.value.code == code
    assert isinstance(err.value.__cause__, ClientError)
    text = str(err.value)
    assert PREFIX in text
    for hint in hints:
        assert hint in text


def test_botocore_errors_without_an_answer_are_unavailable():
    mapped = from_aws_error(
        EndpointConnectionError(endpoint_url="https://ssm.us-east-1.amazonaws.com"), PREFIX
    )
    assert isinstance(mapped, ParameterStoreUnavailableError)
    assert "VPC endpoint" in str(mapped)
    assert from_aws_error(ValueError("not botocore"), PREFIX) is None


def test_a_parameter_store_error_after_a_snapshot_serves_it_and_never_shows_a_password(caplog):
    caplog.set_level(logging.WARNING, logger="bluegreen_db")
    now = [0.0]
    consumer, stubber = _stubbed(clock=lambda: now[0])
    stubber.add_response("get_parameters", _ok_response())
    first = consumer.current()
    stubber.add_client_error(
        "get_parameters", service_error_code="ThrottlingException", service_message="Rate"
    )
    now[0] = 61
    assert consumer.current() is first
    assert "ParameterStoreThrottledError: ThrottlingException" in caplog.text
    stubber.add_client_error(
        "get_parameters", service_error_code="AccessDeniedException", service_message="no"
    )
    now[0] = 400  # past ttl + stale_if_error: the error surfaces
    with pytest.raises(ParameterStoreError) as err:
        consumer.current()
    assert PASSWORD not in str(err.value) + repr(err.value) + caplog.text
