"""Which secrets belong to a fleet: the exact tag, the rotation function by name or ARN, every page."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen_ops.operations.errors import OperationError
from bluegreen_ops.operations.fleet import FleetSelector, list_fleet, parse_tag

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:stack-rotation"


def entry(name: str, tags: dict[str, str] | None = None, function: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"ARN": f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf"}
    found["Name"] = name
    if tags is not None:
        found["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    if function is not None:
        found["RotationLambdaARN"] = function
    return found


class Listing:
    """ListSecrets in pages of ``page`` entries, recording the filters it was given."""

    def __init__(self, entries: list[dict[str, Any]], page: int = 2) -> None:
        self.entries = entries
        self.page = page
        self.calls: list[dict[str, Any]] = []

    def list_secrets(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        start = int(kwargs.get("NextToken", 0))
        response: dict[str, Any] = {"SecretList": self.entries[start : start + self.page]}
        if start + self.page < len(self.entries):
            response["NextToken"] = str(start + self.page)
        return response


def test_a_bare_tag_value_is_the_fleet_tag_of_a_stack() -> None:
    assert parse_tag("prod-stack") == ("bluegreen-rotation", "prod-stack")
    assert parse_tag("team=payments") == ("team", "payments")
    for bad in ("=x", "team="):
        with pytest.raises(OperationError) as exc:
            parse_tag(bad)
        assert exc.value.status == 2


def test_the_tag_matches_exactly_where_list_secrets_matches_prefixes() -> None:
    selector = FleetSelector(tag=("bluegreen-rotation", "prod"))
    assert selector.matches(entry("a", {"bluegreen-rotation": "prod"}))
    assert not selector.matches(entry("b", {"bluegreen-rotation": "prod-2"}))  # a prefix match on AWS
    assert not selector.matches(entry("c", {"bluegreen-rotation-x": "prod"}))
    assert not selector.matches(
        entry("d", {"owner": "prod", "bluegreen-rotation": "dev"})
    )  # key and value of two tags
    assert not selector.matches(entry("e"))


def test_the_function_matches_by_name_or_by_arn_whatever_the_qualifier() -> None:
    by_arn = FleetSelector(function=FUNCTION)
    by_name = FleetSelector(function="stack-rotation")
    for selector in (by_arn, by_name):
        assert selector.matches(entry("a", function=FUNCTION))
        assert selector.matches(entry("b", function=f"{FUNCTION}:live"))
        assert not selector.matches(entry("c", function=f"{FUNCTION}-2"))
        assert not selector.matches(entry("d"))
    other_account = FUNCTION.replace("123456789012", "210987654321")
    assert by_name.matches(entry("e", function=other_account)) and not by_arn.matches(
        entry("e", function=other_account)
    )


def test_tag_and_function_together_both_hold() -> None:
    selector = FleetSelector(tag=("bluegreen-rotation", "prod"), function=FUNCTION)
    assert selector.matches(entry("a", {"bluegreen-rotation": "prod"}, FUNCTION))
    assert not selector.matches(entry("b", {"bluegreen-rotation": "prod"}))
    assert not selector.matches(entry("c", {}, FUNCTION))


def test_a_selector_names_something() -> None:
    with pytest.raises(OperationError) as exc:
        FleetSelector()
    assert exc.value.status == 2


def test_list_fleet_reads_every_page_and_sorts_by_name() -> None:
    tags = {"bluegreen-rotation": "prod"}
    listing = Listing(
        [entry("z", tags), entry("x", {"bluegreen-rotation": "dev"}), entry("b", tags), entry("a", tags)]
    )
    members = list_fleet(listing, FleetSelector(tag=("bluegreen-rotation", "prod")))  # type: ignore[arg-type]
    assert [m.name for m in members] == ["a", "b", "z"]
    assert len(listing.calls) == 2
    assert listing.calls[0]["Filters"] == [
        {"Key": "tag-key", "Values": ["bluegreen-rotation"]},
        {"Key": "tag-value", "Values": ["prod"]},
    ]


def test_by_function_alone_the_listing_is_unfiltered() -> None:
    listing = Listing(
        [entry("a", function=FUNCTION), entry("b", function="arn:aws:lambda:us-east-1:1:function:other")]
    )
    members = list_fleet(listing, FleetSelector(function="stack-rotation"))  # type: ignore[arg-type]
    assert [m.name for m in members] == ["a"] and members[0].rotation_lambda_arn == FUNCTION
    assert "Filters" not in listing.calls[0]


def test_an_empty_fleet_is_not_found() -> None:
    with pytest.raises(OperationError) as exc:
        list_fleet(Listing([]), FleetSelector(tag=("bluegreen-rotation", "typo")))  # type: ignore[arg-type]
    assert exc.value.code == "not-found" and "bluegreen-rotation=typo" in exc.value.message
