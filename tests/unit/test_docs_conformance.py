"""docs/conformance.md names real tests: every ``path::test_name`` it cites exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REF = re.compile(r"`(?:((?:integration|unit)/[\w/]+\.py))?::(test_\w+)`")


def test_every_cited_test_exists() -> None:
    doc = (ROOT / "docs" / "conformance.md").read_text()
    cited, missing, path = 0, [], None
    for match in REF.finditer(doc):
        path = match.group(1) or path  # `::test_x` continues the previous file
        assert path, match.group(0)
        cited += 1
        if f"def {match.group(2)}(" not in (ROOT / "tests" / path).read_text():
            missing.append(f"{path}::{match.group(2)}")
    assert cited >= 20
    assert missing == []
