"""Lines a test wants in CI's log even when it passes (pytest captures a passing test's output)."""

from __future__ import annotations

from typing import Any

_sections: dict[str, list[str]] = {}


def report(section: str, line: str) -> None:
    _sections.setdefault(section, []).append(line)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for section, lines in _sections.items():
        terminalreporter.section(section)
        for line in lines:
            terminalreporter.write_line(line)
