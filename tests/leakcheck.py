"""Leak check for the whole suite: no password or credential-bearing URL in any output.

Every test's captured stdout/stderr (Powertools' JSON logs and EMF metrics go there), every log
record with all its extra fields, and every failure's exception text is scanned for every password
the emulator has ever stored (all versions of all secrets), raw, percent-encoded and JSON-escaped.
A test that passes but leaked is turned into a failure naming where the leak was, never the secret.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

_records: list[str] = []
_checked_tests = {"count": 0}


class _RecordingHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            _records.append(json.dumps(record.__dict__, default=str) + " " + record.getMessage())
        except Exception:
            _records.append(repr(record.__dict__))


def _known_passwords() -> set[str]:
    try:
        from moto.backends import get_backend
    except ImportError:
        return set()
    found: set[str] = set()
    backend = get_backend("secretsmanager")
    for _account, regions in backend.items():
        for _region, region_backend in regions.items():
            for secret in getattr(region_backend, "secrets", {}).values():
                for version in getattr(secret, "versions", {}).values():
                    text = version.get("secret_string")
                    if not text:
                        continue
                    try:
                        value = json.loads(text)
                    except ValueError:
                        continue
                    if isinstance(value, dict) and isinstance(value.get("password"), str):
                        found.add(value["password"])
    return {p for p in found if len(p) >= 8}


def _forms(password: str) -> set[str]:
    return {password, quote(password, safe=""), json.dumps(password)[1:-1]}


@pytest.fixture(autouse=True, scope="session")
def _record_all_logs() -> Iterator[None]:
    handler = _RecordingHandler(level=logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    # Powertools' logger does not propagate to the root logger: record it directly too.
    powertools = logging.getLogger("bluegreen-rotation")
    powertools.addHandler(handler)
    yield
    root.removeHandler(handler)
    powertools.removeHandler(handler)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when != "teardown":
        if report.when == "call":
            item.stash[_call_text] = report.longreprtext or ""
        return
    texts = {
        "captured stdout": report.capstdout,
        "captured stderr": report.capstderr,
        "log records": "\n".join(_records),
        "exception text": item.stash.get(_call_text, ""),
    }
    _records.clear()
    passwords = _known_passwords()
    _checked_tests["count"] += 1
    for where, text in texts.items():
        if not text:
            continue
        for password in passwords:
            if any(form in text for form in _forms(password)):
                report.outcome = "failed"
                report.longrepr = (
                    f"LEAK: a password stored in Secrets Manager appears in the {where} of {item.nodeid}"
                )
                return


_call_text = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(
        f"leak check: scanned the output of {_checked_tests['count']} tests for passwords"
    )
