"""Fixtures of the template tests: template.yaml as loaded, its resources, and its renderings."""

from __future__ import annotations

from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from tests.unit.template.cfn_render import Rendered
from tests.unit.template.helpers import REQUIRED, SCENARIOS, TEMPLATE


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = cfn_yaml.load(str(TEMPLATE))
    return loaded


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    res: dict[str, Any] = template["Resources"]
    return res


@pytest.fixture(scope="module")
def rendered(template: dict[str, Any]) -> dict[str, Rendered]:
    return {name: Rendered(template, {**REQUIRED, **params}) for name, params in SCENARIOS.items()}
