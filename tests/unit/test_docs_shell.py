"""Every shell block of docs/deploy.md parses, and uses no variable it never set.

A reader pastes these blocks in order into one shell: a variable is fine when an earlier block (or an
earlier line of the same block) assigns it, or when it is one of the well-known variables below.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.availability import skip_unless_available

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deploy.md"

# Set by the shell or the AWS CLI's own configuration, never by the guide.
WELL_KNOWN = frozenset({"HOME", "PATH", "PWD", "USER", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"})

BLOCK = re.compile(r"^[ \t]*```(bash|sh)[ \t]*\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
COMMENT = re.compile(r"(^|\s)#.*$", re.MULTILINE)
SINGLE_QUOTED = re.compile(r"'[^']*'")  # no expansion inside: jq's `$m`, JMESPath queries
USE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
ASSIGN = re.compile(r"(?:^|[\s;(])(?:export\s+|local\s+)?([A-Za-z_][A-Za-z0-9_]*)=")
LOOP_OR_READ = re.compile(r"\b(?:for|read(?:\s+-\w+)*)\s+([A-Za-z_][A-Za-z0-9_]*)")


def blocks() -> list[str]:
    found = [m.group(2) for m in BLOCK.finditer(DOC.read_text())]
    assert found, "no ```bash blocks found in docs/deploy.md"
    return found


def undefined_variables(texts: list[str]) -> list[tuple[int, str]]:
    """(block number, name) of every variable used before any block assigned it."""
    defined: set[str] = set(WELL_KNOWN)
    missing = []
    for number, text in enumerate(texts, 1):
        code = SINGLE_QUOTED.sub("''", COMMENT.sub(r"\1", text))
        assigned = [(m.start(1), m.group(1)) for p in (ASSIGN, LOOP_OR_READ) for m in p.finditer(code)]
        for use in USE.finditer(code):
            name = use.group(1)
            if name in defined or any(pos < use.start() and n == name for pos, n in assigned):
                continue
            missing.append((number, name))
        defined |= {n for _, n in assigned}
    return missing


@pytest.mark.parametrize("number", range(1, len(blocks()) + 1))
def test_block_parses(number: int) -> None:
    if shutil.which("bash") is None:
        skip_unless_available("bash is not installed")
    text = blocks()[number - 1]
    done = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, f"block {number} of docs/deploy.md:\n{text}\n{done.stderr}"


def test_every_variable_is_set_before_use() -> None:
    assert undefined_variables(blocks()) == []


def history_expansions(texts: list[str]) -> list[tuple[int, str]]:
    """``!word`` outside single quotes: an interactive bash expands it from history (the RDS master
    secret's name, ``rds!cluster-...``, stops the command with "event not found")."""
    found = []
    for number, text in enumerate(texts, 1):
        code = SINGLE_QUOTED.sub("''", COMMENT.sub(r"\1", text))
        found += [(number, m.group(0)) for m in re.finditer(r"![^\s=(]+", code)]
    return found


def test_no_history_expansion_outside_single_quotes() -> None:
    assert history_expansions(blocks()) == []
    assert history_expansions(["X=rds!cluster-1"]) == [(1, "!cluster-1")]


def test_the_checker_finds_what_it_must() -> None:
    assert undefined_variables(['aws x --secret-id "$SECRET_ARN"']) == [(1, "SECRET_ARN")]
    assert undefined_variables(["A=1", 'echo "$A" ${HOME}']) == []
    assert undefined_variables(["for s in a b; do echo $s; done"]) == []
    assert undefined_variables(["jq --arg m x '. + {k: $m}'  # $NOT_CODE"]) == []
    assert undefined_variables(['echo "$B"; B=1']) == [(1, "B")]
