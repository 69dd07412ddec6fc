"""Which secrets one rotation function rotates: ListSecrets, narrowed by tag or by rotation function.

A fleet stack (template.yaml's ``FleetByTag``) rotates every secret tagged
``bluegreen-rotation=<stack name>``; a secret attached by ARN is found by its ``RotationLambdaARN``,
which ListSecrets returns for each secret. ListSecrets' ``tag-key``/``tag-value`` filters match
prefixes and independently of each other (a key and a value of two different tags match), so they
only narrow the listing: every entry is checked again here for the exact tag.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

from ..exit_codes import EXIT_USAGE
from .errors import OperationError

FLEET_TAG_KEY = "bluegreen-rotation"  # template.yaml's FleetByTag: bluegreen-rotation=<stack name>
_PAGE_SIZE = 100  # ListSecrets' maximum


def parse_tag(text: str) -> tuple[str, str]:
    """``KEY=VALUE``; a bare ``VALUE`` means the fleet tag's key (``bluegreen-rotation=VALUE``)."""
    key, sep, value = text.partition("=")
    if not sep:
        key, value = FLEET_TAG_KEY, text
    if not key or not value:
        raise OperationError(f"--tag {text!r}: expected KEY=VALUE, e.g. {FLEET_TAG_KEY}=<stack>", EXIT_USAGE)
    return key, value


def _unqualified(function: str) -> str:
    """A function ARN without its version or alias (``...:function:NAME:QUALIFIER``), or a bare name."""
    head, marker, rest = function.partition(":function:")
    if not marker:
        return function
    return f"{head}{marker}{rest.split(':', 1)[0]}"


def _function_name(function: str) -> str:
    return _unqualified(function).rsplit(":function:", 1)[-1]


@dataclass(frozen=True)
class FleetSelector:
    """What makes a secret part of the fleet: an exact tag, a rotation function, or both."""

    tag: tuple[str, str] | None = None
    function: str | None = None

    def __post_init__(self) -> None:
        if self.tag is None and not self.function:
            raise OperationError("--all needs --tag KEY=VALUE or --function NAME|ARN", EXIT_USAGE)

    def matches(self, entry: Mapping[str, Any]) -> bool:
        """Whether one ListSecrets entry belongs to the fleet."""
        if self.tag is not None:
            key, value = self.tag
            tags = {t.get("Key"): t.get("Value") for t in entry.get("Tags", [])}
            if tags.get(key) != value:
                return False
        if self.function:
            arn = entry.get("RotationLambdaARN")
            if not arn:
                return False
            if ":function:" in self.function:
                return _unqualified(str(arn)) == _unqualified(self.function)
            return _function_name(str(arn)) == self.function
        return True

    def as_dict(self) -> dict[str, str | None]:
        return {"tag": "=".join(self.tag) if self.tag else None, "function": self.function}

    def describe(self) -> str:
        parts = []
        if self.tag is not None:
            parts.append(f"tagged {'='.join(self.tag)}")
        if self.function:
            parts.append(f"rotated by {self.function}")
        return " and ".join(parts)

    def filters(self) -> list[dict[str, Any]]:
        """ListSecrets filters that narrow the listing (never wider than :meth:`matches`)."""
        if self.tag is None:
            return []
        key, value = self.tag
        return [{"Key": "tag-key", "Values": [key]}, {"Key": "tag-value", "Values": [value]}]


@dataclass(frozen=True)
class FleetMember:
    """One secret of the fleet, as ListSecrets names it."""

    arn: str
    name: str
    rotation_lambda_arn: str | None


def _entries(sm: SecretsManagerClient, filters: list[dict[str, Any]]) -> Iterator[Mapping[str, Any]]:
    kwargs: dict[str, Any] = {"MaxResults": _PAGE_SIZE}
    if filters:
        kwargs["Filters"] = filters
    while True:
        page = sm.list_secrets(**kwargs)
        yield from page.get("SecretList", [])
        token = page.get("NextToken")
        if not token:
            return
        kwargs["NextToken"] = token


def list_fleet(sm: SecretsManagerClient, selector: FleetSelector) -> list[FleetMember]:
    """Every secret the selector names, sorted by name; an empty fleet is an error (a typo, most often)."""
    members = [
        FleetMember(str(e["ARN"]), str(e.get("Name", e["ARN"])), e.get("RotationLambdaARN"))
        for e in _entries(sm, selector.filters())
        if selector.matches(e)
    ]
    if not members:
        raise OperationError(
            f"no secret is {selector.describe()} in this account and region", code="not-found"
        )
    return sorted(members, key=lambda m: (m.name, m.arn))
