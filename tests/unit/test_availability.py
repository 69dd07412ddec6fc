"""The one rule for missing tools: a skip on a developer's machine, a failure under CI."""

from __future__ import annotations

import pytest

from tests.availability import skip_unless_available


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes", "on", " true "])
def test_a_truthy_ci_turns_the_skip_into_a_failure(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="CI requires this test to run, but jq is missing"):
        skip_unless_available("jq is missing")


@pytest.mark.parametrize("value", [None, "", "0", "false", "no", "off"])
def test_without_a_truthy_ci_it_is_a_skip(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception, match="jq is missing"):
        skip_unless_available("jq is missing")
