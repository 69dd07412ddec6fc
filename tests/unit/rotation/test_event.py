from __future__ import annotations

import pytest

from bluegreen_rotation.errors import InvalidInputError
from bluegreen_rotation.rotation import parse_event

OK = {
    "Step": "setSecret",
    "SecretId": "arn:aws:secretsmanager:us-east-1:1:secret:x",
    "ClientRequestToken": "t",
}


def test_event_as_secrets_manager_sends_it():
    assert parse_event(OK) == ("setSecret", OK["SecretId"], "t", None)
    assert parse_event({**OK, "RotationToken": "r"})[3] == "r"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"Step": "deleteSecret"}, "unknown step"),
        ({"SecretId": None}, "no SecretId"),
        ({"ClientRequestToken": ""}, "no ClientRequestToken"),
        ({"RotationToken": 1}, "must be a string"),
    ],
)
def test_bad_events(change, match):
    with pytest.raises(InvalidInputError, match=match):
        parse_event({**OK, **change})


def test_non_object_event():
    with pytest.raises(InvalidInputError, match="JSON object"):
        parse_event(["createSecret"])  # type: ignore[arg-type]
