"""pyproject.toml lists every package and subpackage: a wheel built from it must hold all the code.

setuptools' `packages` is explicit (the four roots live in four folders), so a new subpackage left out
of it installs in editable mode yet vanishes from a wheel: the failure users would meet first.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _declared() -> tuple[dict[str, str], set[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return config["package-dir"], set(config["packages"])


def test_every_subpackage_is_declared() -> None:
    package_dir, packages = _declared()
    found = set()
    for name, folder in package_dir.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            relative = init.parent.relative_to(base)
            found.add(".".join([name, *relative.parts]))
    assert found - packages == set(), "add these to [tool.setuptools] packages"
    assert packages - found == set(), "these are declared but do not exist"
