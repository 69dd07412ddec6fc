"""The GetParameters source: one call for five names, the boto3 client's configuration and its fork
handling, and botocore's errors surfacing typed.

The error cases go through a real boto3 client whose every request is answered by a ``before-send``
hook (below botocore's retry loop, so retryable codes are retried as against the real service):
nothing leaves the process.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import NoRegionError

from bluegreen_db import errors
from bluegreen_db.naming import ParameterNames
from bluegreen_db.source import ParameterSource
from tests.unit.layer.fakes import BLUE_PW, PREFIX, FakeSSM, parameters

NAMES = ParameterNames.for_prefix(PREFIX, {})


@pytest.fixture
def aws_env(monkeypatch):
    """A region and dummy credentials: enough for botocore to build and sign, nothing to reach."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def test_one_get_parameters_call_for_the_flag_and_four_urls():
    ssm = FakeSSM(parameters())
    source = ParameterSource(NAMES, client=ssm)  # type: ignore[arg-type]
    snap = source.fetch()
    assert ssm.calls == [
        {
            "Names": [
                f"{PREFIX}/blue-green-env",
                f"{PREFIX}/blue/writer-db-url",
                f"{PREFIX}/blue/reader-db-url",
                f"{PREFIX}/green/writer-db-url",
                f"{PREFIX}/green/reader-db-url",
            ],
            "WithDecryption": True,
        }
    ]
    assert snap.color == "blue" and snap.url().password == BLUE_PW
    assert source.calls == 1


def test_the_client_is_built_once_with_botocores_standard_retries_and_timeouts(aws_env):
    source = ParameterSource(NAMES, max_attempts=5)
    client = source.client
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (3, 5)
    assert source.client is client


def test_adaptive_retries_and_an_extra_config_merged_over_the_defaults(aws_env):
    source = ParameterSource(NAMES, retry_mode="adaptive", boto_config=Config(read_timeout=9))
    config = source.client.meta.config
    assert config.retries["mode"] == "adaptive"
    assert config.read_timeout == 9


def test_without_max_attempts_botocore_reads_aws_max_attempts_itself(aws_env, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    assert ParameterSource(NAMES).client.meta.config.retries == {"mode": "standard", "total_max_attempts": 2}


def test_a_client_factory_is_called_on_first_use_only():
    made: list[FakeSSM] = []

    def factory() -> Any:
        made.append(FakeSSM(parameters()))
        return made[-1]

    source = ParameterSource(NAMES, client_factory=factory)
    assert made == []  # construction does no I/O
    source.fetch()
    source.fetch()
    assert len(made) == 1


def test_a_forked_child_rebuilds_a_callers_client_like_it(aws_env):
    given = boto3.client("ssm", region_name="eu-west-1", endpoint_url="http://127.0.0.1:9")
    source = ParameterSource(NAMES, client=given)
    assert source.client is given
    source._after_fork_in_child()  # what os.register_at_fork runs in the child
    rebuilt = source.client
    assert rebuilt is not given
    assert (rebuilt.meta.region_name, rebuilt.meta.endpoint_url) == ("eu-west-1", "http://127.0.0.1:9")


def test_a_forked_child_calls_the_factory_again():
    made: list[FakeSSM] = []
    source = ParameterSource(NAMES, client_factory=lambda: made.append(FakeSSM(parameters())) or made[-1])  # type: ignore[func-returns-value]
    first = source.client
    source._after_fork_in_child()
    assert source.client is not first and len(made) == 2


def test_building_the_client_without_a_region_is_a_typed_error():
    def no_region() -> Any:
        raise NoRegionError()

    with pytest.raises(errors.ParameterStoreUnavailableError, match="AWS_REGION") as err:
        ParameterSource(NAMES, client_factory=no_region).fetch()
    assert isinstance(err.value.__cause__, NoRegionError)


def test_errors_that_are_not_botocores_pass_through():
    ssm = FakeSSM(parameters())
    ssm.failure = lambda: KeyError("x")
    with pytest.raises(KeyError):
        ParameterSource(NAMES, client=ssm).fetch()  # type: ignore[arg-type]


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def _answer_every_call_with(code: str, message: str, sent: list[str]) -> Any:
    """A ``before-send`` hook: each GetParameters attempt gets this AWS error, nothing is sent."""
    from botocore.awsrequest import AWSResponse

    def hook(request: Any, **_: Any) -> Any:
        sent.append(code)
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = {"x-amzn-RequestId": "injected", "Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, 400, headers, _Raw(body))

    return hook


@pytest.mark.parametrize(
    ("code", "message", "error", "attempts"),
    [
        ("AccessDeniedException", "not authorized to perform: ssm:GetParameters", "AccessDenied", 1),
        ("AccessDeniedException", "not authorized to perform: kms:Decrypt", "Decrypt", 1),
        ("InvalidKeyId", "The query key ID isn't valid.", "Decrypt", 1),
        ("ThrottlingException", "Rate exceeded", "Throttled", 2),
    ],
)
def test_parameter_store_errors_surface_typed_after_botocores_retries(
    aws_env, code, message, error, attempts
):
    source = ParameterSource(NAMES, retry_mode="standard", max_attempts=2)
    sent: list[str] = []
    source.client.meta.events.register(
        "before-send.ssm.GetParameters", _answer_every_call_with(code, message, sent)
    )
    with pytest.raises(getattr(errors, f"ParameterStore{error}Error")) as err:
        source.fetch()
    assert err.value.code == code
    assert len(sent) == attempts  # throttling was retried by botocore; a denial was not
