"""The CLI through click's CliRunner against the real local stack, with a leak check on every run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import pymysql
import pytest
from click.testing import CliRunner, Result

from bluegreen_ops.cli import main
from tests.helpers import secret_value


def stored_passwords(stack: Any) -> set[str]:
    """Every password the stack holds: all versions of the rotated secret, and the master's."""
    found = {stack.db.admin_password}
    sm = stack.secretsmanager
    for arn in (stack.app.secret_arn, stack.app.master_arn):
        versions = sm.list_secret_version_ids(SecretId=arn, IncludeDeprecated=True)["Versions"]
        for version in versions:
            kwargs: dict[str, Any] = {"SecretId": arn, "VersionId": version["VersionId"]}
            if version.get("VersionStages"):
                kwargs["VersionStage"] = version["VersionStages"][0]
            try:
                text = sm.get_secret_value(**kwargs).get("SecretString")
            except sm.exceptions.ClientError:
                continue  # a placeholder version without a value
            try:
                value = json.loads(text or "{}")
            except json.JSONDecodeError:
                continue  # a malformed version, stored on purpose by a test
            password = value.get("password") if isinstance(value, dict) else None
            if password:
                found.add(password)
    return found


def assert_no_password(stack: Any, text: str) -> None:
    for password in stored_passwords(stack):
        for form in {password, quote(password, safe=""), json.dumps(password)[1:-1]}:
            assert form not in text, "a stored password appears in the CLI's output"


class Cli:
    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.runner = CliRunner()

    def __call__(self, *args: str, expect: int | None = 0, secret: bool = True) -> Result:
        argv = list(args) + (["--secret-id", self.stack.app.secret_arn] if secret else [])
        result = self.runner.invoke(main, argv, catch_exceptions=False)
        assert_no_password(self.stack, result.output)
        if expect is not None:
            assert result.exit_code == expect, f"exit {result.exit_code}, expected {expect}:\n{result.output}"
        return result

    def json(self, *args: str, expect: int | None = 0) -> dict[str, Any]:
        result = self(*args, "--output", "json", expect=expect)
        return json.loads(result.stdout)  # progress and errors go to stderr: stdout is the document


@pytest.fixture
def cli(stack: Any) -> Cli:
    return Cli(stack)


@pytest.fixture
def make_cli() -> Any:
    return Cli


@contextmanager
def session_as_previous(stack: Any) -> Iterator[None]:
    """A live session as AWSPREVIOUS's user (the color the next rotation changes) while the block runs."""
    previous = secret_value(stack, "AWSPREVIOUS")
    conn = pymysql.connect(
        host="127.0.0.1", port=stack.db.port, user=previous["username"], password=previous["password"]
    )
    try:
        yield
    finally:
        conn.close()


@pytest.fixture
def previous_session() -> Any:
    """``with previous_session(stack):`` holds a live session as AWSPREVIOUS's user."""
    return session_as_previous
